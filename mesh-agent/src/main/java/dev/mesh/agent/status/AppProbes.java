package dev.mesh.agent.status;

import dev.mesh.api.ProxyUser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Locale;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import tools.jackson.databind.JsonNode;

/**
 * The app's own probes, which the injector moved to the agent (ISTIO_KUBE_APP_PROBERS, keyed by
 * {@code /app-health/<container>/livez|readyz}): httpGet and tcpSocket, run against the pod's
 * address as the kubelet would have run them.
 *
 * <p>The agent runs as the proxy's uid or gid, whose connections to the pod's own address are sent
 * to the proxy's inbound port, which would accept a probe for a port the app has closed. So probes
 * to the pod go from 127.0.0.6, the source capture always lets through, as Istio's agent probes.
 */
final class AppProbes {
  /** What a probe found: the HTTP status to answer with, and a word for the body. */
  record Outcome(int status, String body) {}

  private final JsonNode probers;
  private final String podIp;

  AppProbes(JsonNode probers, String podIp) {
    this.probers = probers;
    this.podIp = podIp;
  }

  Outcome run(String path) {
    JsonNode probe = probers == null ? null : probers.get(path);
    if (probe == null) {
      return new Outcome(404, "no probe for " + path + "\n");
    }
    Duration timeout = Duration.ofSeconds(Math.max(1, probe.path("timeoutSeconds").asInt(1)));
    if (probe.has("httpGet")) {
      return httpGet(probe.get("httpGet"), timeout);
    }
    if (probe.has("tcpSocket")) {
      return tcpSocket(probe.get("tcpSocket"), timeout);
    }
    return new Outcome(500, "probe kind not supported (httpGet and tcpSocket are)\n");
  }

  /** An HTTP/1.1 GET, the kubelet's: its status line decides; the certificate is not checked. */
  private Outcome httpGet(JsonNode get, Duration timeout) {
    boolean https = get.path("scheme").asString("HTTP").toUpperCase(Locale.ROOT).equals("HTTPS");
    String host = get.path("host").asString(podIp);
    int port = get.path("port").asInt();
    StringBuilder request =
        new StringBuilder("GET ")
            .append(get.path("path").asString("/"))
            .append(" HTTP/1.1\r\nHost: ")
            .append(hostPort(host, port))
            .append("\r\nUser-Agent: kube-probe/1.34\r\nAccept: */*\r\nConnection: close\r\n");
    for (JsonNode h : get.path("httpHeaders")) {
      request.append(h.path("name").asString()).append(": ").append(h.path("value").asString());
      request.append("\r\n");
    }
    request.append("\r\n");
    try (Socket plain = connect(host, port, timeout)) {
      Socket s = https ? tls(plain, host, port) : plain;
      OutputStream out = s.getOutputStream();
      out.write(request.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      String statusLine =
          new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1))
              .readLine();
      String[] parts = statusLine == null ? new String[0] : statusLine.split(" ");
      if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
        return new Outcome(500, "app did not answer HTTP\n");
      }
      int status = Integer.parseInt(parts[1]);
      // The kubelet counts 200-399 as success.
      return status >= 200 && status < 400
          ? new Outcome(200, "ok\n")
          : new Outcome(status, "app answered " + status + "\n");
    } catch (IOException | NumberFormatException e) {
      return new Outcome(500, "app did not answer: " + e.getMessage() + "\n");
    }
  }

  private Outcome tcpSocket(JsonNode tcp, Duration timeout) {
    String host = tcp.path("host").asString(podIp);
    try (Socket s = connect(host, tcp.path("port").asInt(), timeout)) {
      return new Outcome(200, "ok\n");
    } catch (IOException e) {
      return new Outcome(500, "app port closed: " + e.getMessage() + "\n");
    }
  }

  /** A connection to the app, from 127.0.0.6 when it is to this pod, with the probe's timeout. */
  private Socket connect(String host, int port, Duration timeout) throws IOException {
    Socket s = new Socket();
    try {
      InetAddress target = InetAddress.getByName(host);
      if (target.isLoopbackAddress() || host.equals(podIp)) {
        s.bind(
            new InetSocketAddress(InetAddress.getByName(ProxyUser.INBOUND_PASSTHROUGH_SOURCE), 0));
      }
      s.connect(new InetSocketAddress(target, port), (int) timeout.toMillis());
      s.setSoTimeout((int) timeout.toMillis());
      return s;
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    }
  }

  private static Socket tls(Socket plain, String host, int port) throws IOException {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, new TrustManager[] {new TrustAll()}, null);
      SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, host, port, true);
      s.startHandshake();
      return s;
    } catch (GeneralSecurityException e) {
      throw new IOException("no TLS: " + e.getMessage(), e);
    }
  }

  /** The kubelet does not verify an HTTPS probe's certificate; neither does the agent. */
  private static final class TrustAll implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }

  private static String hostPort(String host, int port) {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
