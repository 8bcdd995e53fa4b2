package dev.mesh.config.networking;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Required;
import java.util.List;
import java.util.Map;

/** The spec of a VirtualService, with Istio's field names and shapes. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class VirtualServiceSpec {
  public List<String> hosts;
  public List<String> gateways;
  public List<HTTPRoute> http;
  public List<TLSRoute> tls;
  public List<TCPRoute> tcp;
  public List<String> exportTo;

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HTTPRoute {
    public String name;
    public List<HTTPMatchRequest> match;
    public List<HTTPRouteDestination> route;
    public HTTPRedirect redirect;
    public HTTPDirectResponse directResponse;
    public Delegate delegate;
    public HTTPRewrite rewrite;
    public String timeout;
    public HTTPRetry retries;
    public HTTPFaultInjection fault;
    public Destination mirror;
    public Percent mirrorPercentage;
    public List<HTTPMirrorPolicy> mirrors;
    public CorsPolicy corsPolicy;
    public Headers headers;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HTTPMatchRequest {
    public String name;
    public StringMatch uri;
    public StringMatch scheme;
    public StringMatch method;
    public StringMatch authority;
    public Map<String, StringMatch> headers;
    public Integer port;
    public Map<String, String> sourceLabels;
    public List<String> gateways;
    public Map<String, StringMatch> queryParams;
    public Boolean ignoreUriCase;
    public Map<String, StringMatch> withoutHeaders;
    public String sourceNamespace;
    public String statPrefix;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HTTPRouteDestination {
    @Required public Destination destination;
    public Integer weight;
    public Headers headers;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class RouteDestination {
    @Required public Destination destination;
    public Integer weight;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HTTPRedirect {
    public String uri;
    public String authority;
    public Integer port;
    public DerivePort derivePort;
    public String scheme;
    public Integer redirectCode;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HTTPDirectResponse {
    @Required public Integer status;
    public HTTPBody body;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HTTPBody {
    public String string;
    public String bytes;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Delegate {
    public String name;
    public String namespace;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HTTPRewrite {
    public String uri;
    public String authority;
    public RegexRewrite uriRegexRewrite;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class RegexRewrite {
    public String match;
    public String rewrite;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HTTPRetry {
    public Integer attempts;
    public String perTryTimeout;
    public String retryOn;
    public Boolean retryRemoteLocalities;
    public Boolean retryIgnorePreviousHosts;
    public String backoff;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HTTPFaultInjection {
    public Delay delay;
    public Abort abort;

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Delay {
      public String fixedDelay;
      public Percent percentage;
      public Integer percent;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Abort {
      public Integer httpStatus;
      public String grpcStatus;
      public String http2Error;
      public Percent percentage;
    }
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HTTPMirrorPolicy {
    @Required public Destination destination;
    public Percent percentage;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class CorsPolicy {
    public List<StringMatch> allowOrigins;
    public List<String> allowMethods;
    public List<String> allowHeaders;
    public List<String> exposeHeaders;
    public String maxAge;
    public Boolean allowCredentials;
    public UnmatchedPreflights unmatchedPreflights;
  }

  public enum DerivePort {
    FROM_PROTOCOL_DEFAULT,
    FROM_REQUEST_PORT
  }

  public enum UnmatchedPreflights {
    UNSPECIFIED,
    FORWARD,
    IGNORE
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class TLSRoute {
    @Required public List<TLSMatchAttributes> match;
    public List<RouteDestination> route;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class TLSMatchAttributes {
    @Required public List<String> sniHosts;
    public List<String> destinationSubnets;
    public Integer port;
    public Map<String, String> sourceLabels;
    public List<String> gateways;
    public String sourceNamespace;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class TCPRoute {
    public List<L4MatchAttributes> match;
    public List<RouteDestination> route;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class L4MatchAttributes {
    public List<String> destinationSubnets;
    public Integer port;
    public String sourceSubnet;
    public Map<String, String> sourceLabels;
    public List<String> gateways;
    public String sourceNamespace;
  }
}
