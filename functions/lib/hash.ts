/**
 * FNV-1a (32 bits) of a string's UTF-16 code units, unsigned. Stable across processes, Node
 * versions and deploys, so stored layouts may depend on it: the usage event buckets and the
 * live-spend shards are this hash modulo their fixed counts.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
