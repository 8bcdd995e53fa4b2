package dev.mesh.pilot.security.authn;

import static dev.mesh.pilot.security.authn.InboundTls.ALL_MTLS_ALPNS;
import static dev.mesh.pilot.security.authn.InboundTls.MTLS_HTTP_ALPNS;
import static dev.mesh.pilot.security.authn.InboundTls.MTLS_TCP_ALPNS;
import static dev.mesh.pilot.security.authn.InboundTls.PLAINTEXT_HTTP_ALPNS;
import static dev.mesh.pilot.security.authn.InboundTls.RAW_BUFFER;

import java.util.List;

/**
 * The filter chains of one inbound port, per mTLS mode and the port's protocol, as Istio lays them
 * out: which transport protocol and ALPN each chain matches, whether it serves HTTP or TCP, and
 * whether it terminates TLS. STRICT has TLS chains only, DISABLE plaintext ones only, PERMISSIVE
 * both (and for TCP, TLS that is not Istio's passed through as it is).
 */
public final class InboundChainOptions {
  private InboundChainOptions() {}

  /** The port's protocol as the inbound side sees it: known HTTP, known TCP, or to be sniffed. */
  public enum PortKind {
    HTTP,
    TCP,
    AUTO
  }

  /**
   * One chain: its match and its role.
   *
   * @param suffix what the chain's name adds to the port's, unique within the port
   */
  public record Option(
      List<String> alpns, String transportProtocol, boolean http, boolean tls, String suffix) {}

  private static final String TLS = InboundTls.TLS;

  public static List<Option> of(MtlsMode mode, PortKind kind) {
    return switch (kind) {
      case HTTP ->
          switch (mode) {
            case STRICT -> List.of(new Option(List.of(), TLS, true, true, "-mtls"));
            case PERMISSIVE ->
                List.of(
                    new Option(ALL_MTLS_ALPNS, TLS, true, true, "-mtls"),
                    new Option(List.of(), RAW_BUFFER, true, false, ""));
            case DISABLE -> List.of(new Option(List.of(), RAW_BUFFER, true, false, ""));
          };
      case TCP ->
          switch (mode) {
            case STRICT -> List.of(new Option(List.of(), TLS, false, true, "-mtls"));
            case PERMISSIVE ->
                List.of(
                    new Option(ALL_MTLS_ALPNS, TLS, false, true, "-mtls"),
                    new Option(List.of(), RAW_BUFFER, false, false, ""),
                    new Option(List.of(), TLS, false, false, "-tls"));
            case DISABLE -> List.of(new Option(List.of(), RAW_BUFFER, false, false, ""));
          };
      case AUTO ->
          switch (mode) {
            case STRICT ->
                List.of(
                    new Option(MTLS_HTTP_ALPNS, TLS, true, true, "-http-mtls"),
                    new Option(List.of(), TLS, false, true, "-mtls"));
            case PERMISSIVE ->
                List.of(
                    new Option(MTLS_HTTP_ALPNS, TLS, true, true, "-http-mtls"),
                    new Option(PLAINTEXT_HTTP_ALPNS, RAW_BUFFER, true, false, "-http"),
                    new Option(MTLS_TCP_ALPNS, TLS, false, true, "-mtls"),
                    new Option(List.of(), RAW_BUFFER, false, false, ""),
                    new Option(List.of(), TLS, false, false, "-tls"));
            case DISABLE ->
                List.of(
                    new Option(PLAINTEXT_HTTP_ALPNS, RAW_BUFFER, true, false, "-http"),
                    new Option(List.of(), RAW_BUFFER, false, false, ""));
          };
    };
  }
}
