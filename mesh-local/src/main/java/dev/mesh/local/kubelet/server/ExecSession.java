package dev.mesh.local.kubelet.server;

import dev.mesh.local.kubelet.server.KubeletHttpHandler.Target;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * One {@code exec}'d process and its pipes, whatever carries them (SPDY streams or WebSocket
 * channels): stdin is written by a thread of its own, stdout and stderr are read by one each, and
 * once both are at their end and the process has exited its status goes out, in Kubernetes' v4
 * form.
 */
final class ExecSession {
  private static final Logger LOG = Logger.getLogger(ExecSession.class.getName());
  private static final byte[] END = new byte[0];

  /** Where the process's output goes; called from the session's threads, in order per pipe. */
  interface Output {
    void stdout(ByteBuf data);

    void stderr(ByteBuf data);

    /** Last: the status JSON (metav1.Status). Nothing follows. */
    void finished(String status);
  }

  private final LinkedBlockingQueue<byte[]> stdin = new LinkedBlockingQueue<>();
  private volatile Process process;
  private volatile boolean over;

  private ExecSession() {}

  /** Starts {@code options.command} in the target container; returns at once. */
  static ExecSession start(
      KubeletPods pods, Target target, Exec.Options options, ExecutorService blocking, Output out) {
    ExecSession s = new ExecSession();
    blocking.execute(() -> s.run(pods, target, options, blocking, out));
    return s;
  }

  private void run(
      KubeletPods pods, Target t, Exec.Options o, ExecutorService blocking, Output out) {
    Process p;
    try {
      p = pods.exec(t.namespace(), t.pod(), t.container(), o.command(), o.tty());
    } catch (IOException | RuntimeException e) {
      LOG.info("exec in " + t + " of " + o.command() + " failed: " + e.getMessage());
      out.finished(Exec.internalError(e.getMessage()));
      return;
    }
    process = p;
    LOG.fine("exec in " + t + ": " + o.command() + " (pid " + p.pid() + ")");
    if (over) {
      p.destroy();
    }
    if (o.stdin()) {
      blocking.execute(() -> writeStdin(p.getOutputStream(), t));
    } else {
      closeQuietly(p.getOutputStream());
    }
    CountDownLatch pipes = new CountDownLatch(2);
    blocking.execute(() -> pump(p.getInputStream(), o.stdout() ? out::stdout : null, pipes));
    blocking.execute(() -> pump(p.getErrorStream(), o.stderr() ? out::stderr : null, pipes));
    try {
      pipes.await();
      int code = p.waitFor();
      LOG.fine("exec in " + t + ": " + o.command() + " exited " + code);
      out.finished(code == 0 ? Exec.success() : Exec.nonZeroExit(code));
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private static void pump(InputStream in, Consumer<ByteBuf> to, CountDownLatch done) {
    byte[] buf = new byte[16384];
    try (in) {
      for (int n; (n = in.read(buf)) >= 0; ) {
        if (to != null && n > 0) {
          to.accept(Unpooled.wrappedBuffer(Arrays.copyOf(buf, n)));
        }
      }
    } catch (IOException e) {
      // The process ended or was destroyed: its pipe is at its end either way.
    } finally {
      done.countDown();
    }
  }

  private void writeStdin(OutputStream in, Target t) {
    try (in) {
      for (byte[] b; (b = stdin.take()) != END; ) {
        in.write(b);
        in.flush();
      }
    } catch (IOException e) {
      LOG.fine("exec in " + t + ": stdin closed by the process: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Bytes for the process's stdin (owned by the session). */
  void stdin(ByteBuf data) {
    try {
      byte[] b = new byte[data.readableBytes()];
      data.readBytes(b);
      if (b.length > 0 && !over) {
        stdin.add(b);
      }
    } finally {
      data.release();
    }
  }

  /** The client's stdin is at its end: so is the process's. */
  void stdinClosed() {
    stdin.add(END);
  }

  /** The client went away: the process is ended (SIGTERM) so that nothing is left behind. */
  void abort() {
    over = true;
    stdin.add(END);
    Process p = process;
    if (p != null && p.isAlive()) {
      p.destroy();
    }
  }

  private static void closeQuietly(OutputStream s) {
    try {
      s.close();
    } catch (IOException e) {
      // Nothing was written to it.
    }
  }
}
