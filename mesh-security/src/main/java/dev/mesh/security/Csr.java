package dev.mesh.security;

import dev.mesh.api.SpiffeId;
import java.io.IOException;
import java.io.StringReader;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PublicKey;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * PKCS#10 certificate signing requests as Istio's agent sends them: an empty subject and the
 * workload's SPIFFE id as the one URI subject alternative name, signed with the workload's key. A
 * CA reads only the public key from it ({@link #publicKey}), after checking the signature.
 */
public final class Csr {
  private Csr() {}

  /** The PEM CSR for {@code id}, signed with {@code keys}. */
  public static String build(KeyPair keys, SpiffeId id) {
    return build(keys, List.of(id.toString()));
  }

  /** The PEM CSR asking for the URI subject alternative names {@code uris}. */
  public static String build(KeyPair keys, List<String> uris) {
    try {
      var b =
          new JcaPKCS10CertificationRequestBuilder(
              new X500Name(new org.bouncycastle.asn1.x500.RDN[0]), keys.getPublic());
      if (!uris.isEmpty()) {
        GeneralName[] names =
            uris.stream()
                .map(u -> new GeneralName(GeneralName.uniformResourceIdentifier, u))
                .toArray(GeneralName[]::new);
        ExtensionsGenerator ext = new ExtensionsGenerator();
        // The subject is empty, so the names are critical (RFC 5280 4.2.1.6).
        ext.addExtension(Extension.subjectAlternativeName, true, new GeneralNames(names));
        b.addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, ext.generate());
      }
      var signer =
          new JcaContentSignerBuilder(WorkloadKeys.signatureAlgorithm(keys.getPrivate()))
              .build(keys.getPrivate());
      return Pem.write(b.build(signer));
    } catch (OperatorCreationException | IOException e) {
      throw new IllegalStateException("cannot build a CSR: " + e.getMessage(), e);
    }
  }

  /**
   * The public key of a PEM CSR whose signature it verifies (the caller holds the private key).
   * Throws IllegalArgumentException saying what is wrong.
   */
  public static PublicKey publicKey(String pem) {
    PKCS10CertificationRequest csr = parse(pem);
    try {
      JcaPKCS10CertificationRequest jca = new JcaPKCS10CertificationRequest(csr);
      PublicKey key = jca.getPublicKey();
      if (!csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(key))) {
        throw new IllegalArgumentException("the CSR's signature does not match its public key");
      }
      return key;
    } catch (GeneralSecurityException | OperatorCreationException | PKCSException e) {
      throw new IllegalArgumentException("the CSR's public key or signature: " + e.getMessage(), e);
    }
  }

  /** The parsed CSR of a PEM text. */
  public static PKCS10CertificationRequest parse(String pem) {
    if (pem == null || pem.isBlank()) {
      throw new IllegalArgumentException("the CSR is empty");
    }
    try (PEMParser reader = new PEMParser(new StringReader(pem))) {
      Object o = reader.readObject();
      if (o instanceof PKCS10CertificationRequest csr) {
        return csr;
      }
      throw new IllegalArgumentException("not a PEM CERTIFICATE REQUEST");
    } catch (IOException e) {
      throw new IllegalArgumentException("unreadable PEM CSR: " + e.getMessage(), e);
    }
  }
}
