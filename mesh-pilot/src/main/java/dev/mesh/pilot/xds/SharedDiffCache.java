package dev.mesh.pilot.xds;

import io.envoyproxy.controlplane.cache.CacheStatusInfo;
import io.envoyproxy.controlplane.cache.DeltaCacheStatusInfo;
import io.envoyproxy.controlplane.cache.DeltaResponse;
import io.envoyproxy.controlplane.cache.Resources;
import io.envoyproxy.controlplane.cache.Resources.ResourceType;
import io.envoyproxy.controlplane.cache.VersionedResource;
import io.envoyproxy.controlplane.cache.WatchCancelledException;
import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * java-control-plane's snapshot cache, answering delta watches with a diff made once per pair of
 * snapshots rather than once per proxy.
 *
 * <p>SimpleCache diffs the previous and the new snapshot of a proxy, every type, whenever a
 * snapshot is set, before it looks at whether the proxy's watch is even behind: with a thousand
 * proxies and thousands of endpoints that is millions of map lookups for a one-endpoint change.
 * Pilot shares one snapshot object among proxies with equal config, so the same diff repeats for
 * each of them; here it is made once, and only for the types whose version moved. What a watch is
 * sent is unchanged: the resources that changed and that it tracks (or all of them, wildcard), and
 * the tracked ones that went away. State-of-the-world watches are answered by SimpleCache itself.
 */
final class SharedDiffCache extends SimpleCache<String> {
  // Proxies are pushed one after another, so the diffs in use at a time are few: those of the
  // distinct snapshot pairs of one push.
  private static final int REMEMBERED_DIFFS = 64;

  private record Diff(
      Snapshot before,
      Snapshot after,
      ResourceType type,
      Map<String, VersionedResource<?>> changed,
      List<String> removed) {}

  private final List<Diff> diffs = new ArrayList<>();

  SharedDiffCache() {
    super(node -> node.getId());
  }

  @Override
  protected void respondWithSpecificOrder(
      String group,
      Snapshot previous,
      Snapshot snapshot,
      Map<ResourceType, CacheStatusInfo<String>> statusMap,
      Map<ResourceType, DeltaCacheStatusInfo<String>> deltaStatusMap) {
    if (!statusMap.isEmpty()) {
      super.respondWithSpecificOrder(group, previous, snapshot, statusMap, Map.of());
    }
    if (deltaStatusMap.isEmpty()) {
      return;
    }
    for (ResourceType type : Resources.RESOURCE_TYPES_IN_ORDER) {
      DeltaCacheStatusInfo<String> status = deltaStatusMap.get(type);
      if (status == null || status.numWatches() == 0) {
        continue;
      }
      String version = snapshot.version(type, List.of());
      status.watchesRemoveIf(
          (id, watch) -> {
            if (watch.version().equals(version)) {
              return false; // nothing new for it in this type
            }
            Diff diff = diff(previous, snapshot, type);
            Map<String, VersionedResource<?>> changed = new HashMap<>();
            diff.changed.forEach(
                (name, resource) -> {
                  String tracked = watch.trackedResources().get(name);
                  boolean wanted =
                      watch.pendingResources().contains(name)
                          || (tracked == null
                              ? watch.isWildcard()
                              : !tracked.equals(resource.version()));
                  if (wanted) {
                    changed.put(name, resource);
                  }
                });
            List<String> removed = new ArrayList<>();
            for (String name : diff.removed) {
              if (watch.trackedResources().get(name) != null) {
                removed.add(name);
              }
            }
            if (changed.isEmpty() && removed.isEmpty()) {
              return false; // the watch stays open for a later snapshot
            }
            try {
              watch.respond(DeltaResponse.create(watch.request(), changed, removed, version));
            } catch (WatchCancelledException e) {
              // the stream closed meanwhile: the watch goes either way
            }
            return true;
          });
    }
  }

  private synchronized Diff diff(Snapshot before, Snapshot after, ResourceType type) {
    for (Diff d : diffs) {
      if (d.before == before && d.after == after && d.type == type) {
        return d;
      }
    }
    Map<String, VersionedResource<?>> old =
        before == null ? Map.of() : before.versionedResources(type);
    Map<String, VersionedResource<?>> now = after.versionedResources(type);
    Map<String, VersionedResource<?>> changed = new HashMap<>();
    now.forEach(
        (name, resource) -> {
          VersionedResource<?> was = old.get(name);
          if (was == null || !was.version().equals(resource.version())) {
            changed.put(name, resource);
          }
        });
    List<String> removed = new ArrayList<>();
    for (String name : old.keySet()) {
      if (!now.containsKey(name)) {
        removed.add(name);
      }
    }
    Diff d = new Diff(before, after, type, changed, removed);
    if (diffs.size() == REMEMBERED_DIFFS) {
      diffs.remove(0);
    }
    diffs.add(d);
    return d;
  }
}
