/** The CLI writes through the one atomic streaming sink (src/fs/output-sink.ts). */
export { openOutputSink as openSink, type OutputSink as Sink } from '../fs/output-sink.js';
