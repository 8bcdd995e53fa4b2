package dev.mesh.agent.identity;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Map;
import java.util.Queue;

/**
 * Pilot's CA with its mock API server as a process of its own, so that it can run in a pod's
 * network namespace beside the agent it serves (a namespace reaches nothing of the test JVM's
 * loopback). Arguments: the port, the file to write the mesh's root to once the CA serves.
 */
public final class PilotCaProcess {
  private PilotCaProcess() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    Path rootFile = Path.of(args[1]);
    Map<ServerRequest, Queue<ServerResponse>> responses = new HashMap<>();
    KubernetesMockServer server =
        new KubernetesMockServer(
            new Context(),
            new MockWebServer(),
            responses,
            new KubernetesMixedDispatcher(responses),
            true);
    server.init(InetAddress.getLoopbackAddress(), 0);
    KubernetesClient client = server.createClient();
    PilotCaUnderTest.prepare(server, client);
    PilotCaUnderTest ca = PilotCaUnderTest.start(client, port);
    Path tmp = rootFile.resolveSibling(".root-cert.pem.tmp");
    Files.writeString(tmp, ca.rootPem());
    Files.move(tmp, rootFile, StandardCopyOption.ATOMIC_MOVE);
    System.out.println("CA serving on " + ca.address());
    Thread.currentThread().join(); // until the test kills it
  }
}
