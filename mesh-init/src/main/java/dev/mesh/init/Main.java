package dev.mesh.init;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * mesh-init: the pod's capture rules, with istio-iptables' flags. Builds the whole set in memory
 * and applies it in one iptables-restore; on any failure it removes what it added, so a pod never
 * runs with half a rule set.
 */
@Command(
    name = "mesh-init",
    mixinStandardHelpOptions = true,
    version = "mesh-init 0.1.0",
    description = "Writes the pod's iptables rules that send its TCP traffic through the sidecar.",
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:rules applied, removed or printed",
      "1:nothing changed: the reason is printed (no CAP_NET_ADMIN, no iptables, iptables refused)",
      "2:bad flags"
    })
public final class Main implements Callable<Integer> {
  @Option(names = "-p", description = "outbound capture port (default ${DEFAULT-VALUE})")
  int outboundPort = 15001;

  @Option(names = "-z", description = "inbound capture port (default ${DEFAULT-VALUE})")
  int inboundPort = 15006;

  @Option(
      names = "-u",
      description = "uids never captured, comma-separated (default ${DEFAULT-VALUE})")
  String uids = "1337";

  @Option(
      names = "-g",
      description = "gids never captured, comma-separated (default ${DEFAULT-VALUE})")
  String gids = "1337";

  @Option(
      names = "-m",
      description = "inbound capture: REDIRECT or TPROXY (default ${DEFAULT-VALUE})")
  String mode = "REDIRECT";

  @Option(
      names = "-i",
      description =
          "outbound CIDRs to capture, '*' for all, '' for none (default ${DEFAULT-VALUE})")
  String includeCidrs = "*";

  @Option(names = "-x", description = "outbound CIDRs never captured")
  String excludeCidrs = "";

  @Option(
      names = "-b",
      description = "inbound ports to capture, '*' for all, '' for none (default ${DEFAULT-VALUE})")
  String includeInboundPorts = "*";

  @Option(
      names = "-d",
      description = "inbound ports never captured (15020, 15021 and 15090 never are)")
  String excludeInboundPorts = "";

  @Option(names = "-o", description = "outbound ports never captured")
  String excludeOutboundPorts = "";

  @Option(names = "-q", description = "outbound ports captured whatever -i says")
  String includeOutboundPorts = "";

  @Option(names = "--dry-run", description = "print the rules and change nothing")
  boolean dryRun;

  @Option(names = "--cleanup", description = "remove this tool's rules, and nothing else")
  boolean cleanup;

  @Option(
      names = "--backend",
      description = "iptables backend: auto (the one already holding rules), nft or legacy")
  String backend = "auto";

  public static void main(String[] args) {
    System.exit(run(args));
  }

  static int run(String... args) {
    return new CommandLine(new Main()).execute(args);
  }

  @Override
  public Integer call() {
    CaptureSpec spec;
    Iptables.Backend chosen;
    try {
      spec = spec();
      chosen = backend();
    } catch (IllegalArgumentException e) {
      System.err.println("mesh-init: " + e.getMessage());
      return 2;
    }
    Map<String, RuleSet.Table> rules = RuleSet.of(spec);
    if (dryRun) {
      System.out.print(cleanup ? "" : RuleSet.fresh(rules));
      if (!cleanup && spec.mode() == CaptureSpec.Mode.TPROXY) {
        System.out.println(
            "ip -f inet rule add fwmark 1337 lookup 133\n"
                + "ip -f inet route replace local default dev lo table 133");
      }
      return 0;
    }
    try {
      Iptables iptables = new Iptables(chosen != null ? chosen : Iptables.detect());
      if (cleanup) {
        removeAll(iptables);
        System.out.println("mesh-init: capture rules removed (" + iptables.backend.command + ")");
        return 0;
      }
      apply(iptables, rules, spec);
      System.out.print(RuleSet.fresh(rules));
      System.out.println(
          "mesh-init: outbound TCP to "
              + spec.outboundPort()
              + ", inbound to "
              + spec.inboundPort()
              + " ("
              + spec.mode()
              + ", "
              + iptables.backend.command
              + ")");
      return 0;
    } catch (Iptables.Failure e) {
      System.err.println("mesh-init: " + e.getMessage());
      return 1;
    }
  }

  private static void apply(Iptables iptables, Map<String, RuleSet.Table> rules, CaptureSpec spec) {
    try {
      iptables.restore(iptables.plan(rules));
      if (spec.mode() == CaptureSpec.Mode.TPROXY) {
        TproxyRouting.add();
      } else {
        TproxyRouting.remove();
      }
    } catch (Iptables.Failure e) {
      try {
        removeAll(iptables);
      } catch (Iptables.Failure again) {
        throw new Iptables.Failure(
            e.getMessage() + "; removing what was added failed too: " + again.getMessage());
      }
      throw new Iptables.Failure(e.getMessage() + "; nothing was left applied");
    }
  }

  private static void removeAll(Iptables iptables) {
    iptables.restore(iptables.plan(Map.of()));
    TproxyRouting.remove();
  }

  private Iptables.Backend backend() {
    return switch (backend) {
      case "auto" -> null;
      case "nft" -> Iptables.Backend.NFT;
      case "legacy" -> Iptables.Backend.LEGACY;
      default ->
          throw new IllegalArgumentException(
              "--backend must be auto, nft or legacy, got '" + backend + "'");
    };
  }

  private static final Pattern ID = Pattern.compile("[0-9]{1,10}");
  private static final Pattern CIDR =
      Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})(/(\\d{1,2}))?");

  CaptureSpec spec() {
    CaptureSpec.Mode m;
    try {
      m = CaptureSpec.Mode.valueOf(mode);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("-m must be REDIRECT or TPROXY, got '" + mode + "'");
    }
    return new CaptureSpec(
        port(String.valueOf(outboundPort), "-p"),
        port(String.valueOf(inboundPort), "-z"),
        ids(uids, "-u"),
        ids(gids, "-g"),
        m,
        includeCidrs.strip().equals("*"),
        includeCidrs.strip().equals("*") ? List.of() : cidrs(includeCidrs, "-i"),
        cidrs(excludeCidrs, "-x"),
        includeInboundPorts.strip().equals("*"),
        includeInboundPorts.strip().equals("*") ? List.of() : ports(includeInboundPorts, "-b"),
        ports(excludeInboundPorts, "-d"),
        ports(includeOutboundPorts, "-q"),
        ports(excludeOutboundPorts, "-o"));
  }

  private static List<String> items(String list) {
    List<String> out = new ArrayList<>();
    for (String s : list.split(",")) {
      if (!s.isBlank()) {
        out.add(s.strip());
      }
    }
    return out;
  }

  private static List<String> ids(String list, String flag) {
    List<String> out = items(list);
    for (String id : out) {
      if (!ID.matcher(id).matches()) {
        throw new IllegalArgumentException(flag + " takes numeric ids, got '" + id + "'");
      }
    }
    return out;
  }

  private static List<Integer> ports(String list, String flag) {
    List<Integer> out = new ArrayList<>();
    for (String p : items(list)) {
      out.add(port(p, flag));
    }
    return out;
  }

  private static int port(String text, String flag) {
    try {
      int p = Integer.parseInt(text);
      if (p >= 1 && p <= 65535) {
        return p;
      }
    } catch (NumberFormatException e) {
      // said below
    }
    throw new IllegalArgumentException(flag + " takes ports from 1 to 65535, got '" + text + "'");
  }

  private static List<String> cidrs(String list, String flag) {
    List<String> out = new ArrayList<>();
    for (String c : items(list)) {
      var m = CIDR.matcher(c);
      boolean ok = m.matches();
      for (int i = 1; ok && i <= 4; i++) {
        ok = Integer.parseInt(m.group(i)) <= 255;
      }
      if (ok && m.group(6) != null) {
        ok = Integer.parseInt(m.group(6)) <= 32;
      }
      if (!ok) {
        throw new IllegalArgumentException(
            flag + " takes IPv4 addresses or CIDRs (IPv6 is not captured yet), got '" + c + "'");
      }
      out.add(m.group(6) == null ? c + "/32" : c);
    }
    return out;
  }
}
