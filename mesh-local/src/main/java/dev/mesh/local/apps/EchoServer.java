package dev.mesh.local.apps;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * A small app for namespace tests and the local mesh: answers "echo <address> <path>" on
 * 127.0.0.1:<port>, or on the address given as {@code ip:port}. Run as a child process.
 */
public final class EchoServer {
  private EchoServer() {}

  public static void main(String[] args) throws Exception {
    String ip = args[0].contains(":") ? args[0].substring(0, args[0].indexOf(':')) : "127.0.0.1";
    int port = Integer.parseInt(args[0].substring(args[0].indexOf(':') + 1));
    String label = args[0].contains(":") ? args[0] : Integer.toString(port);
    HttpServer server = HttpServer.create(new InetSocketAddress(ip, port), 64);
    server.createContext(
        "/",
        ex -> {
          byte[] body =
              ("echo " + label + " " + ex.getRequestURI()).getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(200, body.length);
          ex.getResponseBody().write(body);
          ex.close();
        });
    server.start();
  }
}
