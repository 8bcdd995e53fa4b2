package dev.mesh.pilot.ca;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Pilot's CA and its TLS gRPC port (15012, as istiod's): the mesh's CA from {@link CaRootStore},
 * its root published in every namespace, and one TLS server serving {@code IstioCertificateService}
 * and ADS with pilot's own certificate, signed by the mesh's root for the names the agent dials.
 * Client certificates are asked for, not required at the handshake (a sidecar's first call, for its
 * certificate, has none, and the CA takes its service-account token instead): those it gets are
 * checked against the mesh's root, and an ADS stream is served only with one, for a node of the
 * certificate's namespace ({@link dev.mesh.pilot.xds.XdsPeerAuthentication}).
 */
public final class PilotCa implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(PilotCa.class.getName());
  // Pilot makes its serving certificate at start; a restart makes a new one.
  static final Duration SERVING_VALIDITY = Duration.ofDays(365);

  /** Settings: where the CA lives and how pilot is named. */
  public record Settings(
      String namespace, String trustDomain, int port, String host, List<String> extraNames) {
    /** The DNS names pilot's certificate carries: istiod's, then CA_ADDR's host and others. */
    public List<String> servingNames() {
      Set<String> names = new LinkedHashSet<>();
      names.add("mesh-pilot." + namespace + ".svc");
      names.add("mesh-pilot." + namespace + ".svc.cluster.local");
      names.add("mesh-pilot." + namespace);
      names.add("mesh-pilot");
      for (String n : extraNames) {
        String host = hostOf(n);
        if (!host.isEmpty()) {
          names.add(host);
        }
      }
      return List.copyOf(names);
    }
  }

  private final MeshCa ca;
  private final RootCertPublisher publisher;
  private final Server server;

  private PilotCa(MeshCa ca, RootCertPublisher publisher, Server server) {
    this.ca = ca;
    this.publisher = publisher;
    this.server = server;
  }

  /**
   * Loads (or makes) the CA, publishes its root, and serves it with {@code ads} on {@code
   * settings.port()} (0 for any free port) over TLS.
   */
  public static PilotCa start(KubernetesClient client, Settings settings, BindableService ads)
      throws IOException {
    MeshCa ca = CaRootStore.load(client, settings.namespace(), settings.trustDomain());
    RootCertPublisher publisher = new RootCertPublisher(client, ca.rootPem());
    publisher.start();
    List<String> names = settings.servingNames();
    MeshCa.ServingCertificate serving = ca.serving(names, SERVING_VALIDITY);
    SslContext ssl =
        GrpcSslContexts.configure(
                io.netty.handler.ssl.SslContextBuilder.forServer(
                    serving.key(),
                    serving.chain().toArray(new java.security.cert.X509Certificate[0])))
            .trustManager(ca.root())
            .clientAuth(ClientAuth.OPTIONAL)
            .build();
    CaService service = new CaService(ca, new TokenReviewer(client, settings.trustDomain()));
    NettyServerBuilder builder =
        NettyServerBuilder.forAddress(new InetSocketAddress(settings.host(), settings.port()))
            .sslContext(ssl)
            .addService(service.definition());
    if (ads != null) {
      builder.addService(dev.mesh.pilot.xds.XdsPeerAuthentication.intercept(ads));
    }
    Server server;
    try {
      server = builder.build().start();
    } catch (IOException e) {
      publisher.close();
      throw new IOException(
          "cannot serve the CA and xDS over TLS on "
              + settings.host()
              + ":"
              + settings.port()
              + ": "
              + e.getMessage(),
          e);
    }
    LOG.info(
        "CA and "
            + (ads != null ? "ADS" : "no ADS")
            + " over TLS on "
            + settings.host()
            + ":"
            + server.getPort()
            + ", pilot's certificate for "
            + names);
    return new PilotCa(ca, publisher, server);
  }

  public int port() {
    return server.getPort();
  }

  public MeshCa ca() {
    return ca;
  }

  public String rootPem() {
    return ca.rootPem();
  }

  private static String hostOf(String address) {
    String a = address.trim();
    int scheme = a.indexOf("://");
    if (scheme >= 0) {
      a = a.substring(scheme + 3);
    }
    if (a.startsWith("[")) {
      return ""; // an IPv6 literal is not a DNS name
    }
    int colon = a.lastIndexOf(':');
    return colon >= 0 ? a.substring(0, colon) : a;
  }

  /** The names of {@code csv} (comma separated), for {@link Settings#extraNames()}. */
  public static List<String> names(String... csvs) {
    List<String> out = new ArrayList<>();
    for (String csv : csvs) {
      if (csv == null) {
        continue;
      }
      for (String s : csv.split(",")) {
        if (!s.isBlank()) {
          out.add(s.trim());
        }
      }
    }
    return out;
  }

  @Override
  public void close() {
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    publisher.close();
  }
}
