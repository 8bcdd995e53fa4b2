package dev.mesh.config.security;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Required;
import java.util.List;

/** The spec of an AuthorizationPolicy, with Istio's field names and shapes. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class AuthorizationPolicySpec {
  public WorkloadLabelSelector selector;
  public PolicyTargetReference targetRef;
  public List<PolicyTargetReference> targetRefs;
  public List<Rule> rules;
  public Action action;
  public ExtensionProvider provider;

  public enum Action {
    ALLOW,
    DENY,
    AUDIT,
    CUSTOM
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class PolicyTargetReference {
    public String group;
    @Required public String kind;
    @Required public String name;
    public String namespace;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ExtensionProvider {
    public String name;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Rule {
    public List<From> from;
    public List<To> to;
    public List<Condition> when;

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class From {
      public Source source;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class To {
      public Operation operation;
    }
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Source {
    public List<String> principals;
    public List<String> notPrincipals;
    public List<String> requestPrincipals;
    public List<String> notRequestPrincipals;
    public List<String> namespaces;
    public List<String> notNamespaces;
    public List<String> serviceAccounts;
    public List<String> notServiceAccounts;
    public List<String> ipBlocks;
    public List<String> notIpBlocks;
    public List<String> remoteIpBlocks;
    public List<String> notRemoteIpBlocks;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Operation {
    public List<String> hosts;
    public List<String> notHosts;
    public List<String> ports;
    public List<String> notPorts;
    public List<String> methods;
    public List<String> notMethods;
    public List<String> paths;
    public List<String> notPaths;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Condition {
    @Required public String key;
    public List<String> values;
    public List<String> notValues;
  }
}
