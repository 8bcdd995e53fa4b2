package dev.mesh.agent.status;

import java.net.http.HttpClient;

/**
 * The HTTP client the agent scrapes the app's metrics with, made on first use: a JDK client costs a
 * TLS context and a selector thread, which a sidecar whose app has no metrics to merge never needs.
 */
final class AppHttpClient {
  private AppHttpClient() {}

  private static final class Holder {
    static final HttpClient CLIENT =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  }

  static HttpClient get() {
    return Holder.CLIENT;
  }
}
