package dev.mesh.local.netns;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Who a container's process is, from its securityContext (runAsUser, runAsGroup, capabilities), and
 * the setpriv prefix that makes a command run so. Capabilities as a container runtime applies them
 * where the mesh depends on it: with {@code drop: [ALL]} the bounding set is the added capabilities
 * alone, so a root process holds exactly those (Istio's TPROXY sidecar: uid 0, gid 1337, NET_ADMIN
 * only). A non-root process is given its added capabilities as ambient ones. Without a
 * securityContext, root stays root with all its capabilities.
 */
public record ContainerIdentity(long uid, long gid, List<String> add, List<String> drop) {

  public ContainerIdentity {
    add = List.copyOf(add);
    drop = List.copyOf(drop);
  }

  /** uid and gid with no capabilities added, none dropped. */
  public static ContainerIdentity of(long uid, long gid) {
    return new ContainerIdentity(uid, gid, List.of(), List.of());
  }

  /** The command prefix (empty for plain root) that runs what follows as this identity. */
  public List<String> setpriv() {
    boolean dropAll = drop.stream().anyMatch(d -> d.equalsIgnoreCase("ALL"));
    if (uid == 0 && gid == 0 && add.isEmpty() && drop.isEmpty()) {
      return List.of();
    }
    List<String> cmd =
        new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups"));
    String added = String.join(",", add.stream().map(c -> "+" + name(c)).toList());
    if (uid == 0) {
      if (dropAll) {
        cmd.add("--bounding-set=-all" + (added.isEmpty() ? "" : "," + added));
      } else if (!drop.isEmpty()) {
        cmd.add(
            "--bounding-set=" + String.join(",", drop.stream().map(c -> "-" + name(c)).toList()));
      }
      cmd.add("--inh-caps=-all");
    } else if (!added.isEmpty()) {
      cmd.add("--inh-caps=" + added);
      cmd.add("--ambient-caps=" + added);
    } else {
      cmd.add("--inh-caps=-all");
    }
    return cmd;
  }

  /** Kubernetes writes NET_ADMIN (or CAP_NET_ADMIN), setpriv net_admin. */
  private static String name(String capability) {
    String c = capability.toLowerCase(Locale.ROOT);
    return c.startsWith("cap_") ? c.substring(4) : c;
  }
}
