package dev.mesh.proxy.filters.listener.tlsinspector;

import dev.mesh.proxy.network.ListenerFilter;
import dev.mesh.proxy.stream.ConnectionInfo;
import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Envoy's tls_inspector: a connection that opens with a TLS ClientHello is {@code tls}, with the
 * hello's SNI and ALPN; anything else is {@code raw_buffer}.
 */
final class TlsInspector implements ListenerFilter {
  static final int MAX_INSPECT = 16 * 1024;

  @Override
  public int maxReadBytes() {
    return MAX_INSPECT;
  }

  @Override
  public boolean onData(ByteBuf b, ConnectionInfo info) {
    int n = b.readableBytes();
    int at = b.readerIndex();
    if (n == 0) {
      return false;
    }
    if (b.getByte(at) != 0x16) {
      return true; // not TLS
    }
    if (n < 5) {
      return false;
    }
    int recordLength = b.getUnsignedShort(at + 3);
    if (n < 5 + recordLength && n < MAX_INSPECT) {
      return false;
    }
    info.setTransportProtocol("tls");
    parseClientHello(b, at + 5, at + Math.min(n, 5 + recordLength), info);
    return true;
  }

  /** The SNI and ALPN protocols of a TLS ClientHello. */
  private static void parseClientHello(ByteBuf b, int from, int to, ConnectionInfo info) {
    List<String> alpn = new ArrayList<>();
    try {
      int at = from;
      if (b.getByte(at) != 1) {
        return; // not a ClientHello
      }
      at += 4 + 2 + 32; // handshake header, client_version, random
      at += 1 + b.getUnsignedByte(at); // session id
      at += 2 + b.getUnsignedShort(at); // cipher suites
      at += 1 + b.getUnsignedByte(at); // compression methods
      int end = Math.min(to, at + 2 + b.getUnsignedShort(at));
      at += 2;
      while (at + 4 <= end) {
        int type = b.getUnsignedShort(at);
        int len = b.getUnsignedShort(at + 2);
        int data = at + 4;
        if (type == 0 && len > 5) { // server_name: list, type host_name (0), name
          int nameLen = b.getUnsignedShort(data + 3);
          info.setRequestedServerName(b.toString(data + 5, nameLen, StandardCharsets.US_ASCII));
        } else if (type == 16 && len > 2) { // application_layer_protocol_negotiation
          int p = data + 2;
          int listEnd = data + 2 + b.getUnsignedShort(data);
          while (p < listEnd) {
            int l = b.getUnsignedByte(p);
            alpn.add(b.toString(p + 1, l, StandardCharsets.US_ASCII));
            p += 1 + l;
          }
        }
        at = data + len;
      }
    } catch (IndexOutOfBoundsException e) {
      // A truncated hello: what was found so far stands.
    } finally {
      info.setApplicationProtocols(alpn);
    }
  }
}
