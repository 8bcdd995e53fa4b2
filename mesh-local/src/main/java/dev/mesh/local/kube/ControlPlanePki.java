package dev.mesh.local.kube;

import dev.mesh.certs.CertificateAuthority;
import dev.mesh.certs.CertificateAuthority.Usage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

/**
 * The certificates a cluster's control plane is started with, made at start as kubeadm makes them
 * (one cluster CA for serving and client certificates; users are a client certificate's CN, groups
 * its O), plus a second CA that only the API server's client certificate to the kubelet comes from,
 * so that the kubelet accepts the API server and no other user of the cluster CA.
 */
public final class ControlPlanePki {
  private static final Duration VALIDITY = Duration.ofDays(365);

  /** The user the kubelet of {@code node} is, as the Node authorizer expects it. */
  public static String nodeUser(String node) {
    return "system:node:" + node;
  }

  private final Path dir;
  private final CertificateAuthority ca;
  private final CertificateAuthority kubeletClientCa;

  private ControlPlanePki(Path dir, CertificateAuthority ca, CertificateAuthority kubeletClientCa) {
    this.dir = dir;
    this.ca = ca;
    this.kubeletClientCa = kubeletClientCa;
  }

  /**
   * Makes the PKI under {@code dir}: the API server's serving certificate carries {@code
   * apiserverNames} (the kubernetes Service's names and IP, the advertise address, loopback), the
   * kubelet's serving certificate {@code kubeletNames}.
   */
  public static ControlPlanePki make(
      Path dir, List<String> apiserverNames, String node, List<String> kubeletNames) {
    CertificateAuthority ca = CertificateAuthority.create("kubernetes", VALIDITY);
    CertificateAuthority kubeletClientCa = CertificateAuthority.create("kubelet-client", VALIDITY);
    ControlPlanePki pki = new ControlPlanePki(dir, ca, kubeletClientCa);
    ca.write(dir, "ca");
    kubeletClientCa.write(dir, "kubelet-client-ca");
    ca.issue("kube-apiserver", List.of(), apiserverNames, Usage.SERVER, VALIDITY)
        .write(dir, "apiserver");
    kubeletClientCa
        .issue("kube-apiserver-kubelet-client", List.of(), List.of(), Usage.CLIENT, VALIDITY)
        .write(dir, "apiserver-kubelet-client");
    ca.issue("system:node:" + node, List.of(), kubeletNames, Usage.SERVER, VALIDITY)
        .write(dir, "kubelet-serving");
    pki.client("admin", "mesh-admin", "system:masters");
    pki.client("node", nodeUser(node), "system:nodes");
    pki.client("kube-proxy", "system:kube-proxy", null);
    pki.client("controller-manager", "system:kube-controller-manager", null);
    pki.client("scheduler", "system:kube-scheduler", null);
    KeyPair sa = CertificateAuthority.newKeys();
    try {
      Files.writeString(dir.resolve("sa.pub"), CertificateAuthority.pem(sa.getPublic()));
      Path key = dir.resolve("sa.key");
      Files.writeString(key, CertificateAuthority.pem(sa.getPrivate()));
      Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the service-account key to " + dir, e);
    }
    return pki;
  }

  private void client(String file, String user, String group) {
    ca.issue(user, group == null ? List.of() : List.of(group), List.of(), Usage.CLIENT, VALIDITY)
        .write(dir, file);
  }

  public Path file(String name) {
    return dir.resolve(name);
  }

  public Path caCert() {
    return file("ca.crt");
  }

  /**
   * A kubeconfig for the client certificate {@code name} (admin, node, kube-proxy,
   * controller-manager, scheduler) at {@code server}, everything inline so it can be copied.
   */
  public String kubeconfig(String name, String server) {
    return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: mesh-local
          cluster:
            server: %s
            certificate-authority-data: %s
        users:
        - name: %s
          user:
            client-certificate-data: %s
            client-key-data: %s
        contexts:
        - name: mesh-local
          context: {cluster: mesh-local, user: %s, namespace: default}
        current-context: mesh-local
        """
        .formatted(
            server,
            base64(caCert()),
            name,
            base64(file(name + ".crt")),
            base64(file(name + ".key")),
            name);
  }

  static String base64(Path file) {
    try {
      return Base64.getEncoder().encodeToString(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }
}
