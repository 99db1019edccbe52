// MD5 (RFC 1321), for checking downloaded data files against their published checksums.
// WebCrypto has no MD5 and the core must not import node:crypto, so it is done here.
// Not for security: MD5 only catches truncated or corrupted downloads.

// Per-round left-rotation amounts and the constants K[i] = floor(2^32 * |sin(i + 1)|).
const S = new Uint8Array([
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
]);
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) | 0;

/** Incremental MD5: update() any number of times, then digestHex() once. */
export class Md5 {
  private a = 0x67452301;
  private b = 0xefcdab89 | 0;
  private c = 0x98badcfe | 0;
  private d = 0x10325476;
  private readonly block = new Uint8Array(64);
  private readonly w = new Int32Array(16);
  private fill = 0; // bytes waiting in `block`
  private total = 0; // bytes seen so far
  private done = false;

  update(bytes: Uint8Array): this {
    if (this.done) throw new Error("batchnorm-wasm: Md5.update() after digestHex()");
    this.total += bytes.length;
    let i = 0;
    if (this.fill > 0) {
      const take = Math.min(64 - this.fill, bytes.length);
      this.block.set(bytes.subarray(0, take), this.fill);
      this.fill += take;
      i = take;
      if (this.fill < 64) return this;
      this.compress(this.block, 0);
      this.fill = 0;
    }
    for (; i + 64 <= bytes.length; i += 64) this.compress(bytes, i);
    if (i < bytes.length) {
      this.block.set(bytes.subarray(i), 0);
      this.fill = bytes.length - i;
    }
    return this;
  }

  /** The digest as 32 lowercase hex digits. */
  digestHex(): string {
    if (this.done) throw new Error("batchnorm-wasm: Md5.digestHex() called twice");
    // Padding: 0x80, zeros to 56 mod 64, then the bit length as a little-endian uint64.
    const bits = this.total * 8;
    const pad = new Uint8Array((this.fill < 56 ? 64 : 128) - this.fill);
    pad[0] = 0x80;
    const n = pad.length;
    const lo = bits % 4294967296, hi = Math.floor(bits / 4294967296);
    for (let k = 0; k < 4; k++) {
      pad[n - 8 + k] = (lo >>> (8 * k)) & 0xff;
      pad[n - 4 + k] = (hi >>> (8 * k)) & 0xff;
    }
    this.update(pad);
    this.done = true;
    let hex = "";
    for (const v of [this.a, this.b, this.c, this.d]) {
      for (let k = 0; k < 4; k++) hex += ((v >>> (8 * k)) & 0xff).toString(16).padStart(2, "0");
    }
    return hex;
  }

  private compress(p: Uint8Array, off: number): void {
    const w = this.w;
    for (let j = 0; j < 16; j++) {
      const o = off + 4 * j;
      w[j] = p[o] | (p[o + 1] << 8) | (p[o + 2] << 16) | (p[o + 3] << 24);
    }
    let a = this.a, b = this.b, c = this.c, d = this.d;
    for (let i = 0; i < 64; i++) {
      let f: number, g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const t = (a + f + K[i] + w[g]) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((t << S[i]) | (t >>> (32 - S[i])))) | 0;
    }
    this.a = (this.a + a) | 0;
    this.b = (this.b + b) | 0;
    this.c = (this.c + c) | 0;
    this.d = (this.d + d) | 0;
  }
}

/** MD5 of bytes, or of a string's UTF-8 encoding, as 32 lowercase hex digits. */
export function md5Hex(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return new Md5().update(bytes).digestHex();
}
