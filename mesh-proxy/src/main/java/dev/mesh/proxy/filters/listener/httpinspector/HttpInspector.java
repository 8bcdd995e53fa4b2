package dev.mesh.proxy.filters.listener.httpinspector;

import dev.mesh.proxy.network.ListenerFilter;
import dev.mesh.proxy.stream.ConnectionInfo;
import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Envoy's http_inspector: a plaintext connection that opens with an HTTP/1.x request line is {@code
 * http/1.1} or {@code http/1.0}, one that opens with the HTTP/2 preface {@code h2c}; TLS and
 * anything else are left as they are.
 */
final class HttpInspector implements ListenerFilter {
  private static final byte[] H2_PREFACE =
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final int MAX_INSPECT = 16 * 1024;

  @Override
  public int maxReadBytes() {
    return MAX_INSPECT;
  }

  @Override
  public boolean onData(ByteBuf b, ConnectionInfo info) {
    if (info.transportProtocol().equals("tls")) {
      return true;
    }
    int n = b.readableBytes();
    int at = b.readerIndex();
    if (n == 0) {
      return false;
    }
    int check = Math.min(n, H2_PREFACE.length);
    boolean prefaceSoFar = true;
    for (int i = 0; i < check; i++) {
      if (b.getByte(at + i) != H2_PREFACE[i]) {
        prefaceSoFar = false;
        break;
      }
    }
    if (prefaceSoFar) {
      if (n < H2_PREFACE.length) {
        return false;
      }
      info.setApplicationProtocols(List.of("h2c"));
      return true;
    }
    int eol = b.indexOf(at, at + n, (byte) '\n');
    if (eol < 0) {
      return n >= MAX_INSPECT || !looksLikeRequestLineStart(b, at, n);
    }
    String line = b.toString(at, eol - at, StandardCharsets.ISO_8859_1).trim();
    String[] parts = line.split(" ");
    if (parts.length == 3 && isToken(parts[0])) {
      if (parts[2].equals("HTTP/1.1")) {
        info.setApplicationProtocols(List.of("http/1.1"));
      } else if (parts[2].equals("HTTP/1.0")) {
        info.setApplicationProtocols(List.of("http/1.0"));
      }
    }
    return true;
  }

  private static boolean looksLikeRequestLineStart(ByteBuf b, int at, int n) {
    for (int i = 0; i < n; i++) {
      byte c = b.getByte(at + i);
      if (c == ' ') {
        return i > 0;
      }
      if (c < 'A' || c > 'Z') {
        return false;
      }
    }
    return true;
  }

  private static boolean isToken(String s) {
    return !s.isEmpty() && s.chars().allMatch(c -> c >= 'A' && c <= 'Z');
  }
}
