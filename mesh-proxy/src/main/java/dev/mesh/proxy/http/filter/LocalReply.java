package dev.mesh.proxy.http.filter;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/**
 * A response the proxy makes itself, shaped as Envoy's local replies: {@code text/plain} with a
 * content-length for a body, nothing for none; for a gRPC request a trailers-only gRPC error
 * (status 200, grpc-status from the HTTP status unless given, the body as grpc-message).
 */
public record LocalReply(HttpResponse headers, ByteBuf body) {

  static LocalReply of(int status, String text, Integer grpcStatus, boolean grpcRequest) {
    HttpResponse r =
        new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status), false);
    if (grpcRequest) {
      r.setStatus(HttpResponseStatus.OK);
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc");
      r.headers()
          .set("grpc-status", Integer.toString(grpcStatus != null ? grpcStatus : grpcOf(status)));
      if (!text.isEmpty()) {
        r.headers().set("grpc-message", percentEncode(text));
      }
      return new LocalReply(r, Unpooled.EMPTY_BUFFER);
    }
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
    if (bytes.length > 0) {
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
    }
    return new LocalReply(
        r, bytes.length == 0 ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(bytes));
  }

  /** Envoy's mapping of an HTTP status to a gRPC status (Grpc::Utility::httpToGrpcStatus). */
  static int grpcOf(int http) {
    return switch (http) {
      case 400 -> 13;
      case 401 -> 16;
      case 403 -> 7;
      case 404 -> 12;
      case 429, 502, 503, 504 -> 14;
      default -> 2;
    };
  }

  /** gRPC's percent-encoding of grpc-message: printable ASCII but '%' as is, the rest %XX. */
  static String percentEncode(String s) {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    StringBuilder b = new StringBuilder(bytes.length);
    for (byte x : bytes) {
      int c = x & 0xFF;
      if (c >= 0x20 && c <= 0x7E && c != '%') {
        b.append((char) c);
      } else {
        b.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)));
        b.append(Character.toUpperCase(Character.forDigit(c & 0xF, 16)));
      }
    }
    return b.toString();
  }
}
