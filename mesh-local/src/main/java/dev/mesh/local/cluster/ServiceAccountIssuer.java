package dev.mesh.local.cluster;

import dev.mesh.security.Pem;
import dev.mesh.security.WorkloadKeys;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.Optional;
import java.util.logging.Logger;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The embedded API's service-account token signer, as kube-apiserver's {@code
 * --service-account-signing-key-file} and {@code --service-account-key-file}: an ECDSA P-256 key
 * (ES256) made the first time a state directory is used and kept there ({@value #KEY}, 0600, and
 * {@value #PUBLIC}), so that a cluster started again on the same directory still accepts the tokens
 * it issued. Tokens are compact JWS with Kubernetes' key id (the SHA-256 of the public key's DER,
 * base64url). Neither a token nor the key ever reaches a log line or an exception message.
 */
final class ServiceAccountIssuer {
  private static final Logger LOG = Logger.getLogger(ServiceAccountIssuer.class.getName());
  private static final ObjectMapper JSON = JsonMapper.builder().build();
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder UNB64 = Base64.getUrlDecoder();
  private static final String ALG = "ES256";
  // JWS wants ES256 signatures as R || S, not DER (RFC 7518, 3.4).
  private static final String JCA = "SHA256withECDSAinP1363Format";

  static final String KEY = "sa.key";
  static final String PUBLIC = "sa.pub";

  private final String issuer;
  private final PrivateKey key;
  private final PublicKey publicKey;
  private final String keyId;

  private ServiceAccountIssuer(String issuer, KeyPair keys) {
    this.issuer = issuer;
    this.key = keys.getPrivate();
    this.publicKey = keys.getPublic();
    this.keyId = keyId(publicKey);
  }

  /** The issuer whose key is in {@code dir}, made there first if it has none. */
  static ServiceAccountIssuer inDirectory(Path dir, String issuer) {
    Path keyFile = dir.resolve(KEY);
    Path publicFile = dir.resolve(PUBLIC);
    try {
      if (Files.exists(keyFile) && Files.exists(publicFile)) {
        return new ServiceAccountIssuer(issuer, read(keyFile, publicFile));
      }
      Files.createDirectories(dir);
      KeyPair keys = WorkloadKeys.ecdsaP256();
      Files.deleteIfExists(keyFile);
      // Made 0600 as it is created, never readable by others for a moment.
      Files.write(
          Files.createFile(
              keyFile,
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))),
          Pem.write(keys.getPrivate()).getBytes(StandardCharsets.US_ASCII),
          StandardOpenOption.TRUNCATE_EXISTING);
      Files.writeString(publicFile, Pem.write(keys.getPublic()));
      LOG.info("service-account signing key made in " + keyFile);
      return new ServiceAccountIssuer(issuer, keys);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep the service-account key in " + dir, e);
    }
  }

  private static KeyPair read(Path keyFile, Path publicFile) throws IOException {
    PrivateKey key;
    try {
      key = Pem.privateKey(Files.readString(keyFile));
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException("the service-account key " + keyFile + " is unreadable", e);
    }
    String pem = Files.readString(publicFile);
    try {
      String der = pem.replaceAll("-----(BEGIN|END) PUBLIC KEY-----", "").replaceAll("\\s", "");
      PublicKey pub =
          KeyFactory.getInstance("EC")
              .generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(der)));
      return new KeyPair(pub, key);
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IllegalStateException(
          "the service-account public key " + publicFile + " is no EC public key", e);
    }
  }

  String issuer() {
    return issuer;
  }

  String keyId() {
    return keyId;
  }

  /** A signed token of these claims, with this issuer's {@code iss}. */
  String sign(ObjectNode claims) {
    ObjectNode header = JSON.createObjectNode().put("alg", ALG).put("kid", keyId);
    claims.put("iss", issuer);
    String input = encode(header) + "." + encode(sorted(claims));
    try {
      Signature s = Signature.getInstance(JCA);
      s.initSign(key);
      s.update(input.getBytes(StandardCharsets.US_ASCII));
      return input + "." + B64.encodeToString(s.sign());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot sign a service-account token: " + e.getMessage(), e);
    }
  }

  /** A token whose signature this issuer's key does not vouch for: the API server's reason. */
  static final class BadSignature extends Exception {
    BadSignature(String reason) {
      super(reason);
    }
  }

  /**
   * The claims of a token signed by this issuer, as kube-apiserver's JWT authenticator reads them:
   * empty for what is not a JWT of this issuer (another authenticator's token, garbage, an unknown
   * algorithm); a token naming this issuer but signed by another key is refused with the reason the
   * API server gives.
   */
  Optional<JsonNode> verify(String token) throws BadSignature {
    String[] parts = token.strip().split("\\.", -1);
    if (parts.length != 3) {
      return Optional.empty();
    }
    JsonNode header;
    JsonNode claims;
    byte[] signature;
    try {
      header = JSON.readTree(UNB64.decode(parts[0]));
      claims = JSON.readTree(UNB64.decode(parts[1]));
      signature = UNB64.decode(parts[2]);
    } catch (RuntimeException e) {
      return Optional.empty();
    }
    if (!claims.isObject() || !issuer.equals(claims.path("iss").asString(""))) {
      return Optional.empty();
    }
    if (!ALG.equals(header.path("alg").asString(""))) {
      return Optional.empty(); // go-jose refuses to parse an algorithm it was not given
    }
    String kid = header.path("kid").asString("");
    if (!kid.isEmpty() && !kid.equals(keyId)) {
      throw new BadSignature("invalid signature, no keys found");
    }
    try {
      Signature s = Signature.getInstance(JCA);
      s.initVerify(publicKey);
      s.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
      if (!s.verify(signature)) {
        throw new BadSignature("go-jose/go-jose: error in cryptographic primitive");
      }
    } catch (java.security.SignatureException e) {
      throw new BadSignature("go-jose/go-jose: error in cryptographic primitive");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot verify with the service-account key", e);
    }
    return Optional.of(claims);
  }

  private static String encode(JsonNode node) {
    return B64.encodeToString(JSON.writeValueAsBytes(node));
  }

  /** The claims with their keys in order, as Go's encoding/json writes a map. */
  private static JsonNode sorted(JsonNode node) {
    if (!node.isObject()) {
      return node;
    }
    ObjectNode out = JSON.createObjectNode();
    node.properties().stream()
        .sorted(java.util.Map.Entry.comparingByKey())
        .forEach(e -> out.set(e.getKey(), sorted(e.getValue())));
    return out;
  }

  /** Kubernetes' key id: the SHA-256 of the public key's PKIX DER, base64url without padding. */
  private static String keyId(PublicKey publicKey) {
    try {
      return B64.encodeToString(
          MessageDigest.getInstance("SHA-256").digest(publicKey.getEncoded()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
