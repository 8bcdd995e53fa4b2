package dev.mesh.proxy.http.hcm;

import java.util.concurrent.ThreadLocalRandom;

/**
 * x-request-id values: random version-4 UUIDs, as Envoy generates them. Like Envoy, from a fast
 * non-cryptographic generator: the id correlates logs, it is no secret, and SecureRandom's lock and
 * digest cost more than the rest of a request's routing.
 */
final class RequestIds {
  private RequestIds() {}

  private static final char[] HEX = "0123456789abcdef".toCharArray();

  static String next() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long hi = (r.nextLong() & ~0xF000L) | 0x4000L; // version 4
    long lo = (r.nextLong() & ~(0xC000L << 48)) | (0x8000L << 48); // IETF variant
    char[] out = new char[36];
    int at = 0;
    for (int i = 15; i >= 0; i--) {
      out[at++] = HEX[(int) (hi >>> (i * 4)) & 0xF];
      if (at == 8 || at == 13) {
        out[at++] = '-';
      }
    }
    out[at++] = '-';
    for (int i = 15; i >= 0; i--) {
      out[at++] = HEX[(int) (lo >>> (i * 4)) & 0xF];
      if (at == 23) {
        out[at++] = '-';
      }
    }
    return new String(out);
  }
}
