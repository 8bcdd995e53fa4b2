package dev.mesh.agent.identity;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The pod's projected service-account token (audience istio-ca). Read at every call: the kubelet
 * replaces it well before it expires, and a token kept in memory would outlive its validity.
 */
final class TokenFile {
  private final Path path;

  TokenFile(Path path) {
    this.path = path;
  }

  /** The token; an IdentityException naming the file when there is none to send. */
  String read() {
    String token;
    try {
      token = Files.readString(path, StandardCharsets.UTF_8).strip();
    } catch (NoSuchFileException e) {
      throw new IdentityException("no service-account token at " + path);
    } catch (IOException e) {
      throw new IdentityException("cannot read the service-account token " + path + ": " + e);
    }
    if (token.isEmpty()) {
      throw new IdentityException("the service-account token " + path + " is empty");
    }
    return token;
  }

  Path path() {
    return path;
  }
}
