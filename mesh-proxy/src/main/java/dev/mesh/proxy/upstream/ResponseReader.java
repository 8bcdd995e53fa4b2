package dev.mesh.proxy.upstream;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

/**
 * Turns the HttpObjects an upstream connection (or HTTP/2 stream) decodes into one response's
 * headers, data and trailers for the exchange in progress. A head is held until the next message of
 * the same read says whether the response ends with it, so a bodiless response arrives complete
 * with its headers. Informational responses (100 Continue) are not the response and are dropped.
 */
abstract class ResponseReader extends ChannelInboundHandlerAdapter {
  private HttpResponse pendingHead;
  private HttpResponse currentHead;
  private boolean skippingInformational;
  private boolean responseDone = true;

  /** The exchange the next response belongs to; null when none waits. */
  abstract ResponseDecoder decoder();

  /** The response has ended (its last piece was given to the decoder). */
  abstract void responseEnded(HttpResponse head);

  /** A new exchange starts: its response is the next one. */
  void expectResponse() {
    responseDone = false;
  }

  boolean responseDone() {
    return responseDone;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      ResponseDecoder d = decoder();
      if (!(msg instanceof HttpObject) || d == null || responseDone) {
        return; // nothing waits for it: a stray response, or the tail of an abandoned one
      }
      if (msg instanceof HttpResponse head) {
        if (head.status().codeClass() == HttpStatusClass.INFORMATIONAL
            && head.status().code() != 101) {
          skippingInformational = !(msg instanceof LastHttpContent);
          return;
        }
        releasePendingHead(false);
        if (msg instanceof FullHttpResponse full) {
          HttpResponse headOnly =
              new DefaultHttpResponse(full.protocolVersion(), full.status(), full.headers());
          boolean bare = !full.content().isReadable() && full.trailingHeaders().isEmpty();
          currentHead = headOnly;
          if (bare) {
            end(() -> d.decodeHeaders(headOnly, true));
          } else {
            d.decodeHeaders(headOnly, false);
            if (decoder() == d && !responseDone) {
              content(d, full);
            }
          }
          return;
        }
        pendingHead = head;
        return;
      }
      if (msg instanceof HttpContent piece) {
        if (skippingInformational) {
          skippingInformational = !(piece instanceof LastHttpContent);
          return;
        }
        boolean last = piece instanceof LastHttpContent;
        HttpResponse head = pendingHead;
        if (head != null) {
          boolean bare =
              last
                  && !piece.content().isReadable()
                  && ((LastHttpContent) piece).trailingHeaders().isEmpty();
          pendingHead = null;
          currentHead = head;
          if (bare) {
            end(() -> d.decodeHeaders(head, true));
            return;
          }
          d.decodeHeaders(head, false);
          if (decoder() != d || responseDone) {
            return;
          }
        }
        content(d, piece);
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void content(ResponseDecoder d, HttpContent piece) {
    if (!(piece instanceof LastHttpContent last)) {
      d.decodeData(piece.content(), false);
      return;
    }
    HttpHeaders trailers = last.trailingHeaders();
    if (trailers.isEmpty()) {
      end(() -> d.decodeData(piece.content(), true));
    } else {
      if (piece.content().isReadable()) {
        d.decodeData(piece.content(), false);
      }
      if (decoder() == d && !responseDone) {
        end(() -> d.decodeTrailers(trailers));
      }
    }
  }

  /** Marks the response done before its last callback, so a reentrant reset sees it ended. */
  private void end(Runnable lastCallback) {
    responseDone = true;
    lastCallback.run();
    responseEnded(currentHead);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    releasePendingHead(false);
    ctx.fireChannelReadComplete();
  }

  private void releasePendingHead(boolean endStream) {
    HttpResponse head = pendingHead;
    ResponseDecoder d = decoder();
    if (head == null) {
      return;
    }
    pendingHead = null;
    if (d != null && !responseDone) {
      currentHead = head;
      d.decodeHeaders(head, endStream);
    }
  }

  /** Forgets a held head (the exchange was abandoned). */
  void clear() {
    pendingHead = null;
    skippingInformational = false;
    responseDone = true;
  }
}
