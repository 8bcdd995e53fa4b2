package dev.mesh.pilot.xds;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.api.XdsTypes;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PushThrottleTest {
  /** A transport that sends each config as one response of the given type and size. */
  private final List<String> delivered = new ArrayList<>();

  private final Map<String, String> nonces = new HashMap<>();
  private final Map<String, Long> bytes = new HashMap<>();
  private String typeSent = XdsTypes.CLUSTER;
  private long sizeSent = 100;
  private int nonce;

  private final PushThrottle throttle =
      new PushThrottle(
          new PushThrottle.Limits(2, 1_000, Long.MAX_VALUE),
          (proxy, snapshot) -> {
            delivered.add(proxy + " " + snapshot.version(XdsTypes.CLUSTER));
            if (typeSent != null) {
              nonces.put(proxy + typeSent, String.valueOf(++nonce));
              bytes.merge(proxy, sizeSent, Long::sum);
            }
          },
          new PushThrottle.Sent() {
            @Override
            public String nonce(String proxy, String type) {
              return nonces.getOrDefault(proxy + type, "");
            }

            @Override
            public long bytes(String proxy) {
              return bytes.getOrDefault(proxy, 0L);
            }
          });

  @Test
  void firstConfigsGoOutAFewAtATimeEachFreedByItsAnswer() {
    for (String p : List.of("a", "b", "c", "d")) {
      throttle.offer(p, Snapshot.createEmpty("1"), true);
    }
    assertThat(delivered).containsExactly("a 1", "b 1");
    throttle.answered("a", XdsTypes.LISTENER); // not what it was sent
    assertThat(delivered).hasSize(2);
    throttle.answered("a", XdsTypes.CLUSTER);
    assertThat(delivered).containsExactly("a 1", "b 1", "c 1");
    throttle.forget("b");
    assertThat(delivered).containsExactly("a 1", "b 1", "c 1", "d 1");
  }

  @Test
  void updatesWaitForRoomInTheByteBudgetAndOnlyTheLatestIsSent() {
    sizeSent = 600;
    throttle.offer("a", Snapshot.createEmpty("1"), false);
    throttle.offer("b", Snapshot.createEmpty("1"), false);
    assertThat(delivered).containsExactly("a 1", "b 1"); // room when b was let out: 600 < 1000
    throttle.offer("c", Snapshot.createEmpty("1"), false);
    throttle.offer("c", Snapshot.createEmpty("2"), false);
    throttle.offer("a", Snapshot.createEmpty("2"), false); // a's first update is unanswered
    assertThat(delivered).containsExactly("a 1", "b 1");
    throttle.answered("a", XdsTypes.CLUSTER);
    throttle.answered("b", XdsTypes.CLUSTER);
    assertThat(delivered).containsExactly("a 1", "b 1", "c 2", "a 2");
  }

  @Test
  void aPushThatSentNothingHoldsNothing() {
    typeSent = null; // the proxy watches none of the changed types
    for (String p : List.of("a", "b", "c")) {
      throttle.offer(p, Snapshot.createEmpty("1"), true);
    }
    assertThat(delivered).containsExactly("a 1", "b 1", "c 1");
  }
}
