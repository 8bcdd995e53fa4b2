package dev.mesh.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.core.v3.CidrRange;
import io.envoyproxy.envoy.config.listener.v3.FilterChainMatch;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class FilterChainSelectorTest {

  private static ConnectionFacts to(
      String ip, int port, String transport, String sni, String... alpn) {
    return new ConnectionFacts(new InetSocketAddress(ip, port), transport, sni, List.of(alpn));
  }

  private static FilterChainMatch port(int p) {
    return FilterChainMatch.newBuilder().setDestinationPort(UInt32Value.of(p)).build();
  }

  private static FilterChainMatch prefix(String ip, int len) {
    return FilterChainMatch.newBuilder()
        .addPrefixRanges(
            CidrRange.newBuilder().setAddressPrefix(ip).setPrefixLen(UInt32Value.of(len)))
        .build();
  }

  @Test
  void aSpecificPortBeatsAnUnsetOneWhateverTheOrder() {
    List<FilterChainMatch> m = List.of(FilterChainMatch.getDefaultInstance(), port(9080));
    assertThat(FilterChainSelector.select(m, to("10.0.0.1", 9080, "raw_buffer", ""))).isEqualTo(1);
    assertThat(FilterChainSelector.select(m, to("10.0.0.1", 8080, "raw_buffer", ""))).isEqualTo(0);
    assertThat(FilterChainSelector.select(List.of(port(9080)), to("10.0.0.1", 1, "raw_buffer", "")))
        .isEqualTo(-1);
  }

  @Test
  void theLongestMatchingPrefixWins() {
    List<FilterChainMatch> m = List.of(prefix("10.0.0.0", 8), prefix("10.1.0.0", 16));
    assertThat(FilterChainSelector.select(m, to("10.1.2.3", 80, "raw_buffer", ""))).isEqualTo(1);
    assertThat(FilterChainSelector.select(m, to("10.2.2.3", 80, "raw_buffer", ""))).isEqualTo(0);
  }

  @Test
  void anExactServerNameBeatsAWildcardAndProtocolsNarrowTheRest() {
    List<FilterChainMatch> m =
        List.of(
            FilterChainMatch.newBuilder()
                .addServerNames("*.example.com")
                .setTransportProtocol("tls")
                .build(),
            FilterChainMatch.newBuilder()
                .addServerNames("api.example.com")
                .setTransportProtocol("tls")
                .build(),
            FilterChainMatch.newBuilder().addApplicationProtocols("http/1.1").build(),
            FilterChainMatch.newBuilder().setTransportProtocol("raw_buffer").build());
    assertThat(FilterChainSelector.select(m, to("1.1.1.1", 443, "tls", "api.example.com")))
        .isEqualTo(1);
    assertThat(FilterChainSelector.select(m, to("1.1.1.1", 443, "tls", "www.example.com")))
        .isEqualTo(0);
    assertThat(FilterChainSelector.select(m, to("1.1.1.1", 80, "raw_buffer", "", "http/1.1")))
        .isEqualTo(3);
    assertThat(FilterChainSelector.select(m, to("1.1.1.1", 80, "raw_buffer", ""))).isEqualTo(3);
  }
}
