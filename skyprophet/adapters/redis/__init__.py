"""Redis below the feature rules: the wire protocol (``wire``), the cluster's routing (``cluster``)
and Feast's key layout read directly (``reader``)."""

from skyprophet.adapters.redis.cluster import ClusterWire, cluster_client, is_cluster
from skyprophet.adapters.redis.reader import RedisReader
from skyprophet.adapters.redis.wire import Wire, command, key_of

__all__ = ["ClusterWire", "RedisReader", "Wire", "cluster_client", "command", "is_cluster", "key_of"]
