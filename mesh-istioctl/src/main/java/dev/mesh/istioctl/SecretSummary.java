package dev.mesh.istioctl;

import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import tools.jackson.databind.JsonNode;

/**
 * istioctl proxy-config secret's table, from Envoy's SecretsConfigDump: per secret its name, what
 * its first certificate is (a CA by its basic constraints, else a chain), whether it has arrived,
 * and that certificate's validity and serial, as istioctl's sdscompare prints them.
 */
final class SecretSummary {
  private SecretSummary() {}

  record Item(
      String name,
      String type,
      String state,
      boolean valid,
      String serial,
      String notAfter,
      String notBefore) {}

  /**
   * Warming secrets, then active ones (istioctl's order), then the bootstrap's static ones, which
   * istioctl leaves out (an Istio sidecar has none) and which are in force from the start: ACTIVE.
   */
  static List<Item> items(JsonNode secretsDump, Instant now) {
    List<Item> out = new ArrayList<>();
    for (JsonNode s : secretsDump.path("dynamic_warming_secrets")) {
      out.add(item(s.path("name").asString(""), s.path("secret"), "WARMING", now));
    }
    for (JsonNode s : secretsDump.path("dynamic_active_secrets")) {
      String state =
          s.path("version_info").asString("").equals("uninitialized") ? "UNINITIALIZED" : "ACTIVE";
      out.add(item(s.path("name").asString(""), s.path("secret"), state, now));
    }
    for (JsonNode s : secretsDump.path("static_secrets")) {
      out.add(item(s.path("name").asString(""), s.path("secret"), "ACTIVE", now));
    }
    return out;
  }

  static void print(PrintWriter out, List<Item> items) {
    if (items.isEmpty()) {
      out.println("No secret items to show.");
      return;
    }
    Columns table =
        new Columns(5)
            .row(
                "RESOURCE NAME",
                "TYPE",
                "STATUS",
                "VALID CERT",
                "SERIAL NUMBER",
                "NOT AFTER",
                "NOT BEFORE");
    for (Item i : items) {
      table.row(i.name, i.type, i.state, i.valid, i.serial, i.notAfter, i.notBefore);
    }
    table.print(out);
  }

  private static Item item(String name, JsonNode secret, String state, Instant now) {
    byte[] pem = bytes(secret.path("tls_certificate").path("certificate_chain"));
    if (pem.length == 0) {
      pem = bytes(secret.path("validation_context").path("trusted_ca"));
    }
    if (pem.length == 0) {
      return new Item(name, "", state, false, "", "", "");
    }
    X509Certificate cert;
    try {
      cert =
          (X509Certificate)
              CertificateFactory.getInstance("X.509")
                  .generateCertificate(new ByteArrayInputStream(pem));
    } catch (CertificateException | RuntimeException e) {
      // istioctl too shows a secret whose certificate does not parse without its details
      return new Item(name, "", state, false, "", "", "");
    }
    Instant notBefore = cert.getNotBefore().toInstant();
    Instant notAfter = cert.getNotAfter().toInstant();
    return new Item(
        name,
        cert.getBasicConstraints() >= 0 ? "CA" : "Cert Chain",
        state,
        now.isAfter(notBefore) && now.isBefore(notAfter),
        cert.getSerialNumber().toString(16),
        rfc3339(notAfter),
        rfc3339(notBefore));
  }

  /** Go's time.RFC3339 of a UTC time: seconds, no fraction, Z. */
  static String rfc3339(Instant t) {
    return DateTimeFormatter.ISO_INSTANT.format(t.truncatedTo(ChronoUnit.SECONDS));
  }

  /** A DataSource's inline bytes (base64 in JSON) or inline string; nothing for a file. */
  private static byte[] bytes(JsonNode dataSource) {
    if (dataSource.has("inline_bytes")) {
      try {
        return Base64.getDecoder().decode(dataSource.path("inline_bytes").asString(""));
      } catch (IllegalArgumentException e) {
        return new byte[0];
      }
    }
    if (dataSource.has("inline_string")) {
      return dataSource.path("inline_string").asString("").getBytes(StandardCharsets.UTF_8);
    }
    return new byte[0];
  }
}
