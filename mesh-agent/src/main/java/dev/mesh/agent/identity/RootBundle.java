package dev.mesh.agent.identity;

import dev.mesh.security.Pem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * The mesh's roots as pilot publishes them (ConfigMap istio-ca-root-cert, mounted as
 * root-cert.pem): what the agent trusts pilot's CA by, and what it serves as ROOTCA. May hold
 * several roots while the mesh's root is being replaced.
 */
record RootBundle(String pem, List<X509Certificate> certificates) {

  /** The bundle in {@code file}; an IdentityException naming the file when it has none. */
  static RootBundle read(Path file) {
    String pem;
    try {
      pem = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new IdentityException("no root certificate at " + file);
    } catch (IOException e) {
      throw new IdentityException("cannot read the root certificate " + file + ": " + e);
    }
    List<X509Certificate> certs;
    try {
      certs = Pem.certificates(pem);
    } catch (IllegalArgumentException e) {
      throw new IdentityException(file + " holds no readable PEM certificate: " + e.getMessage());
    }
    if (certs.isEmpty()) {
      throw new IdentityException(file + " holds no PEM certificate");
    }
    return new RootBundle(pem, certs);
  }
}
