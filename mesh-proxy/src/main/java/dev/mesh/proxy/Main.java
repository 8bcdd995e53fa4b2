package dev.mesh.proxy;

import dev.mesh.proxy.config.BootstrapLoader;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.server.ProxyServer;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import java.nio.file.Path;
import java.util.Map;
import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code java -jar mesh-proxy.jar -c bootstrap.yaml}, with Envoy's flags where they apply. Exit
 * codes: 0 after a clean stop, 1 for a config it will not run or a bad flag.
 */
public final class Main {
  private Main() {}

  private static final String USAGE =
      """
      usage: mesh-proxy -c <config file> [--config-yaml <yaml>] [--log-level <level>]
                        [--concurrency <n>] [--drain-time-s <s>] [--drain-strategy gradual|immediate]
                        [--service-node <id>]
                        [--service-cluster <name>]
      """;

  private static final Map<String, Level> LEVELS =
      Map.of(
          "trace", Level.FINEST,
          "debug", Level.FINE,
          "info", Level.INFO,
          "warning", Level.WARNING,
          "warn", Level.WARNING,
          "error", Level.SEVERE,
          "critical", Level.SEVERE,
          "off", Level.OFF);

  public static void main(String[] args) {
    System.setProperty(
        "java.util.logging.SimpleFormatter.format", "[%1$tF %1$tT.%1$tL][%4$s] %5$s%6$s%n");
    Path config = null;
    String overlay = null;
    String level = "info";
    int concurrency = Runtime.getRuntime().availableProcessors();
    String serviceNode = null;
    String serviceCluster = null;
    int drainTimeSeconds = 600;
    String drainStrategy = "gradual";
    try {
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        switch (a) {
          case "-c", "--config-path" -> config = Path.of(value(args, ++i, a));
          case "--config-yaml" -> overlay = value(args, ++i, a);
          case "-l", "--log-level" -> level = value(args, ++i, a);
          case "--concurrency" -> concurrency = Integer.parseInt(value(args, ++i, a));
          case "--drain-time-s" -> drainTimeSeconds = Integer.parseInt(value(args, ++i, a));
          case "--drain-strategy" -> drainStrategy = value(args, ++i, a);
          case "--service-node" -> serviceNode = value(args, ++i, a);
          case "--service-cluster" -> serviceCluster = value(args, ++i, a);
          case "-h", "--help" -> {
            System.out.print(USAGE);
            return;
          }
          default -> throw new IllegalArgumentException("unknown flag " + a);
        }
      }
      if (config == null && overlay == null) {
        throw new IllegalArgumentException("no configuration: give -c or --config-yaml");
      }
      if (!drainStrategy.equals("gradual") && !drainStrategy.equals("immediate")) {
        throw new IllegalArgumentException("--drain-strategy must be gradual or immediate");
      }
      if (!LEVELS.containsKey(level)) {
        throw new IllegalArgumentException("unknown log level " + level);
      }
    } catch (IllegalArgumentException e) {
      System.err.println("mesh-proxy: " + e.getMessage());
      System.err.print(USAGE);
      System.exit(1);
      return;
    }
    configureLogging(LEVELS.get(level));
    Bootstrap bootstrap;
    try {
      bootstrap = BootstrapLoader.load(config, overlay);
    } catch (ConfigRejectedException e) {
      System.err.println(
          "error initializing configuration '"
              + (config == null ? "--config-yaml" : config)
              + "': "
              + e.getMessage());
      System.exit(1);
      return;
    }
    if (serviceNode != null || serviceCluster != null) {
      var node = bootstrap.getNode().toBuilder();
      if (serviceNode != null) {
        node.setId(serviceNode);
      }
      if (serviceCluster != null) {
        node.setCluster(serviceCluster);
      }
      bootstrap = bootstrap.toBuilder().setNode(node).build();
    }
    ProxyServer server =
        new ProxyServer(
            bootstrap,
            concurrency,
            java.time.Duration.ofSeconds(drainTimeSeconds),
            drainStrategy.equals("immediate"));
    try {
      server.start();
    } catch (ConfigRejectedException e) {
      System.err.println("error initializing configuration: " + e.getMessage());
      System.exit(1);
      return;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(server::close, "mesh-proxy-shutdown"));
    try {
      server.awaitStop();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    System.exit(0);
  }

  private static String value(String[] args, int i, String flag) {
    if (i >= args.length) {
      throw new IllegalArgumentException(flag + " needs a value");
    }
    return args[i];
  }

  private static void configureLogging(Level level) {
    Logger root = Logger.getLogger("");
    for (var h : root.getHandlers()) {
      root.removeHandler(h);
    }
    ConsoleHandler h = new ConsoleHandler();
    h.setLevel(level);
    root.addHandler(h);
    root.setLevel(level);
  }
}
