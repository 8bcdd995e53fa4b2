package dev.mesh.init;

import dev.mesh.local.netns.Host;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One iptables backend (nf_tables or legacy) and the way rules change there: read everything with
 * {@code -save}, write one {@code -restore --noflush} input that removes what an earlier run left
 * and adds the new set, so a second run leaves one set and others' rules are never touched.
 */
final class Iptables {
  enum Backend {
    NFT("iptables-nft"),
    LEGACY("iptables-legacy");

    final String command;

    Backend(String command) {
      this.command = command;
    }
  }

  /** What went wrong, said for a person; the exit code is 1. */
  static final class Failure extends RuntimeException {
    Failure(String message) {
      super(message);
    }
  }

  private static final Pattern OURS =
      Pattern.compile(
          "^-A (PREROUTING|INPUT|OUTPUT|POSTROUTING) .*--comment \"?" + RuleSet.TAG + "\"?( .*)?$");

  final Backend backend;

  Iptables(Backend backend) {
    this.backend = backend;
  }

  /**
   * The backend holding rules already (the node's kube-proxy or CNI chose it, and both must agree),
   * else the one the system's {@code iptables} is.
   */
  static Backend detect() {
    for (Backend b : List.of(Backend.LEGACY, Backend.NFT)) {
      Host.Result saved = run(List.of(b.command + "-save"), null);
      if (saved.exitCode() == 0 && saved.stdout().lines().anyMatch(l -> l.startsWith("-A "))) {
        return b;
      }
    }
    Host.Result version = run(List.of("iptables", "--version"), null);
    return version.stdout().contains("legacy") ? Backend.LEGACY : Backend.NFT;
  }

  /** The restore input that turns what is there now into {@code wanted} (empty: remove ours). */
  String plan(Map<String, RuleSet.Table> wanted) {
    String saved = check(run(List.of(backend.command + "-save"), null), "-save").stdout();
    StringBuilder doc = new StringBuilder();
    for (String table : RuleSet.TABLES) {
      List<String> lines = section(saved, table);
      Set<String> present = new LinkedHashSet<>();
      List<String> tagged = new ArrayList<>();
      for (String l : lines) {
        for (String c : RuleSet.chains(table)) {
          if (l.startsWith(":" + c + " ")) {
            present.add(c);
          }
        }
        if (OURS.matcher(l).matches()) {
          tagged.add(l);
        }
      }
      RuleSet.Table want = wanted.get(table);
      if (present.isEmpty() && tagged.isEmpty() && want == null) {
        continue;
      }
      Set<String> declare = new LinkedHashSet<>(present);
      if (want != null) {
        declare.addAll(want.chains());
      }
      doc.append('*').append(table).append('\n');
      // Under --noflush a declared chain is created or emptied.
      declare.forEach(c -> doc.append(':').append(c).append(" - [0:0]\n"));
      tagged.forEach(l -> doc.append("-D").append(l.substring(2)).append('\n'));
      for (String c : present) {
        if (want == null || !want.chains().contains(c)) {
          doc.append("-X ").append(c).append('\n');
        }
      }
      if (want != null) {
        want.rules().forEach(r -> doc.append(r).append('\n'));
      }
      doc.append("COMMIT\n");
    }
    return doc.toString();
  }

  void restore(String doc) {
    if (!doc.isEmpty()) {
      check(run(List.of(backend.command + "-restore", "--noflush"), doc), "-restore");
    }
  }

  /** The lines of one table in {@code iptables-save} output. */
  private static List<String> section(String saved, String table) {
    List<String> out = new ArrayList<>();
    boolean in = false;
    for (String l : saved.lines().toList()) {
      if (l.startsWith("*")) {
        in = l.equals("*" + table);
      } else if (in && !l.equals("COMMIT")) {
        out.add(l);
      }
    }
    return out;
  }

  private Host.Result check(Host.Result r, String what) {
    if (r.exitCode() == 0) {
      return r;
    }
    String err = r.stderr().isBlank() ? r.stdout().strip() : r.stderr().strip();
    if (r.exitCode() == 127) {
      throw new Failure(
          backend.command
              + what
              + " is not installed: install iptables (apt-get install iptables)");
    }
    if (err.contains("Permission denied") || err.contains("must be root")) {
      throw new Failure(
          "changing iptables rules needs CAP_NET_ADMIN: run as root, or give the init container"
              + " NET_ADMIN and NET_RAW ("
              + backend.command
              + what
              + ": "
              + err
              + ")");
    }
    throw new Failure(backend.command + what + " failed (exit " + r.exitCode() + "): " + err);
  }

  static Host.Result run(List<String> command, String stdin) {
    return Host.run(command, stdin);
  }
}
