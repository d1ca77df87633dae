/** The host's byte order: what we store is little-endian on every host (typed arrays are in host order; a big-endian host swaps). */
export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
