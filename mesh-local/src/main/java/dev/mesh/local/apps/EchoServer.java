package dev.mesh.local.apps;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * A small app for namespace tests and the local mesh: answers "echo <address> <path>" on
 * 127.0.0.1:<port>, or on the address given as {@code ip:port}; {@code ?delay=<ms>} answers that
 * much later (an in-flight request, for drain tests). Run as a child process.
 */
public final class EchoServer {
  private EchoServer() {}

  public static void main(String[] args) throws Exception {
    // The JDK server writes a response's head and body apart; without this, Nagle's algorithm
    // meets the reader's delayed ACK and each answer waits 40 ms.
    System.setProperty("sun.net.httpserver.nodelay", "true");
    String ip = args[0].contains(":") ? args[0].substring(0, args[0].indexOf(':')) : "127.0.0.1";
    int port = Integer.parseInt(args[0].substring(args[0].indexOf(':') + 1));
    String label = args[0].contains(":") ? args[0] : Integer.toString(port);
    HttpServer server = HttpServer.create(new InetSocketAddress(ip, port), 64);
    server.createContext(
        "/",
        ex -> {
          String query = ex.getRequestURI().getQuery();
          if (query != null && query.startsWith("delay=")) {
            try {
              Thread.sleep(Long.parseLong(query.substring("delay=".length())));
            } catch (InterruptedException | NumberFormatException e) {
              // answer at once
            }
          }
          byte[] body =
              ("echo " + label + " " + ex.getRequestURI()).getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(200, body.length);
          ex.getResponseBody().write(body);
          ex.close();
        });
    server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    server.start();
  }
}
