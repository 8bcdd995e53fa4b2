package dev.mesh.proxy.router;

import dev.mesh.proxy.cluster.Endpoint;
import dev.mesh.proxy.cluster.UpstreamCluster;
import dev.mesh.proxy.config.Fractions;
import dev.mesh.proxy.http.filter.DecoderFilterCallbacks;
import dev.mesh.proxy.upstream.ConnectionPools;
import dev.mesh.proxy.upstream.PoolCallbacks;
import dev.mesh.proxy.upstream.ResponseDecoder;
import dev.mesh.proxy.upstream.UpstreamFailure;
import dev.mesh.proxy.upstream.UpstreamStream;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

/**
 * Envoy's request mirroring: once the request is complete, a copy goes to each mirror cluster (for
 * its fraction of requests) with "-shadow" added to the host; its response is dropped and its
 * failures only counted.
 */
final class ShadowWriter {
  private ShadowWriter() {}

  static void mirror(
      RouterConfig config,
      DecoderFilterCallbacks callbacks,
      Route route,
      HttpRequest request,
      List<ByteBuf> body,
      HttpHeaders trailers) {
    for (var policy : route.getRoute().getRequestMirrorPoliciesList()) {
      if (policy.hasRuntimeFraction()
          && !Fractions.hit(policy.getRuntimeFraction().getDefaultValue())) {
        continue;
      }
      UpstreamCluster shadow = config.clusters.get(policy.getCluster());
      Endpoint target = shadow == null ? null : shadow.pick(callbacks.connection().localAddress());
      if (target == null) {
        continue;
      }
      HttpRequest copy =
          new DefaultHttpRequest(
              request.protocolVersion(), request.method(), request.uri(), request.headers().copy());
      String host = copy.headers().get(HttpHeaderNames.HOST, "");
      int colon = host.lastIndexOf(':');
      copy.headers()
          .set(
              HttpHeaderNames.HOST,
              colon > 0 && !host.endsWith("]")
                  ? host.substring(0, colon) + "-shadow" + host.substring(colon)
                  : host + "-shadow");
      List<ByteBuf> pieces = new ArrayList<>(body.size());
      body.forEach(b -> pieces.add(b.retainedDuplicate()));
      shadow.stats().rqTotal.inc();
      Shadow s = new Shadow(shadow, copy, pieces, trailers);
      ConnectionPools.newStream(
          callbacks.dispatcher(), config.upstreamChannelType, shadow, target.address(), s, s);
    }
  }

  /** One mirrored request: sent whole once its stream is ready; what comes back is counted. */
  private static final class Shadow implements ResponseDecoder, PoolCallbacks {
    private final UpstreamCluster cluster;
    private final HttpRequest headers;
    private final List<ByteBuf> body;
    private final HttpHeaders trailers;

    Shadow(UpstreamCluster cluster, HttpRequest headers, List<ByteBuf> body, HttpHeaders trailers) {
      this.cluster = cluster;
      this.headers = headers;
      this.body = body;
      this.trailers = trailers;
    }

    @Override
    public void onPoolReady(UpstreamStream stream) {
      stream.encodeHeaders(headers, body.isEmpty() && trailers == null);
      for (int i = 0; i < body.size(); i++) {
        ByteBuf piece = body.get(i);
        stream.encodeData(piece, i == body.size() - 1 && trailers == null);
        piece.release();
      }
      if (trailers != null) {
        stream.encodeTrailers(trailers);
      }
    }

    @Override
    public void onPoolFailure(UpstreamFailure failure) {
      body.forEach(ByteBuf::release);
      cluster.stats().cxConnectFail.inc();
    }

    @Override
    public void decodeHeaders(HttpResponse response, boolean endStream) {
      cluster.stats().response(response.status().code());
    }

    @Override
    public void decodeData(ByteBuf data, boolean endStream) {}

    @Override
    public void decodeTrailers(HttpHeaders trailers) {}

    @Override
    public void onReset(UpstreamFailure failure) {}

    @Override
    public void onAboveWriteBufferHighWatermark() {}

    @Override
    public void onBelowWriteBufferLowWatermark() {}
  }
}
