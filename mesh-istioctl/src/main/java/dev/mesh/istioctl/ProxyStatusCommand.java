package dev.mesh.istioctl;

import dev.mesh.api.MeshPorts;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * istioctl proxy-status: per proxy and xDS type, what pilot sent and what the proxy did with it.
 */
@Command(
    name = "proxy-status",
    mixinStandardHelpOptions = true,
    description = {
      "Per proxy and xDS type: SYNCED (the proxy ACKed what pilot sent last), STALE (sent and not"
          + " yet ACKed, or NACKed: the error is shown) or NOT SENT. From pilot's /debug/syncz.",
      "POD (name.namespace) shows that proxy's versions and errors."
    })
final class ProxyStatusCommand implements Callable<Integer> {
  static final List<String> TYPES = List.of("CDS", "LDS", "EDS", "RDS");

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", arity = "0..1", description = "a pod, as name.namespace")
  String pod;

  @Option(
      names = "--pilot-url",
      description =
          "pilot's monitoring address (http://host:15014) instead of a port-forward to its pod")
  URI pilotUrl;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    PortForwarder forwarder =
        pilotUrl != null ? PortForwarder.direct(pilotUrl) : PortForwarder.forCurrentCluster();
    try (PortForwarder.Forward f =
        forwarder.open("mesh-system", forwarder.pilotPod(), MeshPorts.PILOT_MONITORING)) {
      JsonNode syncz = JsonMapper.builder().build().readTree(get(f.base().resolve("/debug/syncz")));
      boolean found = false;
      if (pod == null) {
        out.printf("%-50s %-10s %-10s %-10s %-10s%n", "NAME", "CDS", "LDS", "EDS", "RDS");
      }
      for (JsonNode proxy : syncz) {
        String id = proxy.path("proxy").asString();
        String name = podName(id);
        if (pod != null && !name.equals(pod)) {
          continue;
        }
        found = true;
        JsonNode types = proxy.path("types");
        if (pod == null) {
          out.printf(
              "%-50s %-10s %-10s %-10s %-10s%n",
              name,
              state(types, "CDS"),
              state(types, "LDS"),
              state(types, "EDS"),
              state(types, "RDS"));
          for (String t : TYPES) {
            if (types.path(t).has("nack_error")) {
              out.println("  " + t + " rejected: " + types.path(t).path("nack_error").asString());
            }
          }
        } else {
          out.println("proxy " + id);
          for (String t : TYPES) {
            JsonNode s = types.path(t);
            out.printf(
                "%-4s %-9s sent %s, acked %s%s%n",
                t,
                state(types, t),
                s.path("sent_version").asString("-"),
                s.path("acked_version").asString("-"),
                s.has("nack_error") ? ", rejected: " + s.path("nack_error").asString() : "");
          }
        }
      }
      if (pod != null && !found) {
        err.println("meshctl proxy-status: pilot knows no proxy for pod " + pod);
        return 1;
      }
      return 0;
    } catch (IOException e) {
      err.println("meshctl proxy-status: " + e.getMessage());
      return 1;
    }
  }

  private static String state(JsonNode types, String type) {
    return types.path(type).path("state").asString("NOT SENT");
  }

  /** name.namespace from a sidecar's node id, sidecar~ip~name.namespace~domain. */
  static String podName(String nodeId) {
    String[] parts = nodeId.split("~");
    return parts.length >= 3 ? parts[2] : nodeId;
  }

  static String get(URI uri) throws IOException {
    try {
      HttpResponse<String> r =
          HttpClient.newBuilder()
              .connectTimeout(Duration.ofSeconds(5))
              .build()
              .send(
                  HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
                  HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IOException(uri + " answered " + r.statusCode());
      }
      return r.body();
    } catch (java.net.ConnectException e) {
      throw new IOException("nothing answers at " + uri);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    }
  }
}
