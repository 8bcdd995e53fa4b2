package dev.mesh.local.apps;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * {@code LatencyClient <host> <port> <host header> <path> <n>}: n requests one after another on one
 * keep-alive connection (a new one when the server closes it), as an app's client makes them, and
 * for each a line "{@code <microseconds> <status> <first body line>}" on stdout: the latency an app
 * sees, without the cost of starting a process per request.
 */
public final class LatencyClient {
  private LatencyClient() {}

  public static void main(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    String hostHeader = args[2];
    String path = args[3];
    int n = Integer.parseInt(args[4]);
    byte[] request =
        ("GET " + path + " HTTP/1.1\r\nHost: " + hostHeader + "\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1);
    Socket s = null;
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < n; i++) {
      long start = System.nanoTime();
      String outcome;
      try {
        if (s == null) {
          s = new Socket();
          s.setTcpNoDelay(true);
          s.connect(new InetSocketAddress(host, port), 5000);
          s.setSoTimeout(10_000);
        }
        OutputStream o = s.getOutputStream();
        o.write(request);
        o.flush();
        outcome = read(s.getInputStream());
        if (outcome.endsWith(" close")) {
          outcome = outcome.substring(0, outcome.length() - " close".length());
          s.close();
          s = null;
        }
      } catch (IOException e) {
        outcome = "fail " + e.getClass().getSimpleName();
        if (s != null) {
          s.close();
        }
        s = null;
      }
      out.append((System.nanoTime() - start) / 1000).append(' ').append(outcome).append('\n');
    }
    if (s != null) {
      s.close();
    }
    System.out.print(out);
  }

  /** "status first-body-line", and " close" when the server will close the connection. */
  private static String read(InputStream in) throws IOException {
    String status = line(in);
    if (status == null) {
      throw new IOException("closed before a response");
    }
    int length = -1;
    boolean close = false;
    for (String h = line(in); h != null && !h.isEmpty(); h = line(in)) {
      String lower = h.toLowerCase(java.util.Locale.ROOT);
      if (lower.startsWith("content-length:")) {
        length = Integer.parseInt(lower.substring(15).trim());
      } else if (lower.startsWith("connection:") && lower.contains("close")) {
        close = true;
      }
    }
    byte[] body = length < 0 ? in.readAllBytes() : in.readNBytes(length);
    String first = new String(body, StandardCharsets.UTF_8).lines().findFirst().orElse("");
    String[] parts = status.split(" ");
    return (parts.length > 1 ? parts[1] : "?")
        + " "
        + first
        + (close || length < 0 ? " close" : "");
  }

  private static String line(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\n') {
        String s = b.toString(StandardCharsets.ISO_8859_1);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
      }
      b.write(c);
    }
    return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
  }
}
