package dev.mesh.proxy.testfilter;

import dev.mesh.proxy.http.filter.DecoderFilterCallbacks;
import dev.mesh.proxy.http.filter.EncoderFilterCallbacks;
import dev.mesh.proxy.http.filter.FilterHeadersStatus;
import dev.mesh.proxy.http.filter.StreamFilter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Leaves its tag on the request ({@code x-decoded-by}) and on the response ({@code x-encoded-by}),
 * so the order filters ran in shows in the headers. With hold_ms it stops the whole request on its
 * headers (buffering the body) and lets it go on from a timer.
 */
final class TagFilter implements StreamFilter {
  record Config(String tag, long holdMillis) {}

  private final Config config;
  private DecoderFilterCallbacks decoder;
  private ScheduledFuture<?> hold;

  TagFilter(Config config) {
    this.config = config;
  }

  @Override
  public void setDecoderFilterCallbacks(DecoderFilterCallbacks callbacks) {
    this.decoder = callbacks;
  }

  @Override
  public void setEncoderFilterCallbacks(EncoderFilterCallbacks callbacks) {}

  private Config effective() {
    return decoder.perFilterConfig() instanceof Config c ? c : config;
  }

  @Override
  public FilterHeadersStatus decodeHeaders(HttpRequest headers, boolean endStream) {
    Config c = effective();
    headers.headers().add("x-decoded-by", c.tag());
    if (c.holdMillis() > 0) {
      hold =
          decoder
              .dispatcher()
              .schedule(decoder::continueDecoding, c.holdMillis(), TimeUnit.MILLISECONDS);
      return FilterHeadersStatus.STOP_ALL_ITERATION_AND_BUFFER;
    }
    return FilterHeadersStatus.CONTINUE;
  }

  @Override
  public FilterHeadersStatus encodeHeaders(HttpResponse headers, boolean endStream) {
    headers.headers().add("x-encoded-by", effective().tag());
    return FilterHeadersStatus.CONTINUE;
  }

  @Override
  public void onDestroy() {
    if (hold != null) {
      hold.cancel(false);
    }
  }
}
