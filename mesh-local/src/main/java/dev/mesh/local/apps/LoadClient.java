package dev.mesh.local.apps;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * An open-loop HTTP/1.1 load generator for namespace tests: {@code host port rps seconds hostHeader
 * outFile [path]}. Requests (GET path, /load by default) are issued at a fixed rate over keep-alive
 * connections, whatever the answers; each outcome is one line of outFile, written as it comes so
 * that a test can follow the run: {@code <epochMillis> <status> <first body line>}, or {@code
 * <epochMillis> fail <reason>}, where the time is when the request was due. SIGTERM ends a run
 * early, once the requests in flight are answered.
 */
public final class LoadClient {
  private LoadClient() {}

  public static void main(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    int rps = Integer.parseInt(args[2]);
    int seconds = Integer.parseInt(args[3]);
    String hostHeader = args[4];
    Path out = Path.of(args[5]);
    String path = args.length > 6 ? args[6] : "/load";
    int workers = 16;
    BlockingQueue<Long> due = new ArrayBlockingQueue<>(rps * seconds + 1);
    BufferedWriter w = Files.newBufferedWriter(out);
    java.util.function.Consumer<String> record =
        line -> {
          synchronized (w) {
            try {
              w.write(line);
              w.newLine();
              w.flush();
            } catch (IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
          }
        };
    ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor();
    long periodNanos = 1_000_000_000L / rps;
    int total = rps * seconds;
    int[] issued = {0};
    ticker.scheduleAtFixedRate(
        () -> {
          if (issued[0]++ < total) {
            due.add(System.currentTimeMillis());
          }
        },
        0,
        periodNanos,
        TimeUnit.NANOSECONDS);
    List<Thread> threads = new ArrayList<>();
    java.util.concurrent.atomic.AtomicBoolean stopping =
        new java.util.concurrent.atomic.AtomicBoolean();
    // SIGTERM ends the run early: nothing new is sent, what is in flight completes and is recorded.
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  stopping.set(true);
                  ticker.shutdownNow();
                  due.clear();
                  for (Thread t : threads) {
                    try {
                      t.join(15_000);
                    } catch (InterruptedException e) {
                      return;
                    }
                  }
                  synchronized (w) {
                    try {
                      w.flush();
                    } catch (IOException e) {
                      // the run's file is gone
                    }
                  }
                }));
    for (int i = 0; i < workers; i++) {
      Thread t =
          new Thread(
              () -> {
                Socket s = null;
                while (true) {
                  Long at;
                  try {
                    at = due.poll(2, TimeUnit.SECONDS);
                  } catch (InterruptedException e) {
                    return;
                  }
                  if (at == null || stopping.get()) {
                    break;
                  }
                  try {
                    if (s == null) {
                      s = new Socket();
                      s.setTcpNoDelay(true);
                      s.connect(new InetSocketAddress(host, port), 5000);
                      s.setSoTimeout(10_000);
                    }
                    record.accept(at + " " + exchange(s, hostHeader, path));
                    if (s.isClosed()) {
                      s = null;
                    }
                  } catch (IOException e) {
                    record.accept(
                        at + " fail " + e.getClass().getSimpleName() + ":" + e.getMessage());
                    close(s);
                    s = null;
                  }
                }
                close(s);
              });
      t.start();
      threads.add(t);
    }
    for (Thread t : threads) {
      t.join();
    }
    ticker.shutdownNow();
    w.close();
  }

  /** One request on a keep-alive connection; "status first-body-line". */
  private static String exchange(Socket s, String hostHeader, String path) throws IOException {
    OutputStream o = s.getOutputStream();
    o.write(
        ("GET " + path + " HTTP/1.1\r\nHost: " + hostHeader + "\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1));
    o.flush();
    InputStream in = s.getInputStream();
    String status = line(in);
    if (status == null) {
      throw new IOException("closed before a response");
    }
    int length = -1;
    boolean close = false;
    for (String h = line(in); h != null && !h.isEmpty(); h = line(in)) {
      String lower = h.toLowerCase(java.util.Locale.ROOT);
      if (lower.startsWith("content-length:")) {
        length = Integer.parseInt(h.substring(15).trim());
      } else if (lower.startsWith("connection:") && lower.contains("close")) {
        close = true;
      }
    }
    if (length < 0) {
      throw new IOException("no content-length: " + status);
    }
    String body = new String(in.readNBytes(length), StandardCharsets.UTF_8);
    if (close) {
      s.close(); // the server said so; the next request opens a new connection
    }
    String code = status.split(" ")[1];
    int nl = body.indexOf('\n');
    return code + " " + (nl < 0 ? body : body.substring(0, nl));
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    for (int c = in.read(); c >= 0; c = in.read()) {
      if (c == '\n') {
        int n = b.length();
        return n > 0 && b.charAt(n - 1) == '\r' ? b.substring(0, n - 1) : b.toString();
      }
      b.append((char) c);
    }
    return b.length() == 0 ? null : b.toString();
  }

  private static void close(Socket s) {
    if (s != null) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing a broken connection
      }
    }
  }
}
