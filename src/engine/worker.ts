// Worker entry: run each batch with the same task code the inline runtime uses.
import { packResultsByName, runTaskByName, unpackItemsByName } from '../tasks/index.js';
import { serveBatches } from './worker-loop.js';

serveBatches(runTaskByName, packResultsByName, unpackItemsByName);
