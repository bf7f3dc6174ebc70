import NotifyRing
import Reactor
import Wire

/// A connection that follows the notification ring (native WATCH, RESP pub/sub) gets Redis's pubsub
/// output class: events are moved into its output up to `limits.pubsubHardLimit`; reaching it, or
/// staying above `limits.pubsubSoftLimit` for `limits.pubsubSoftSeconds`, closes the connection (counted
/// in `client_output_buffer_limit_disconnections`). A client slower than the ring itself is lapped and
/// told so (a resync) before either happens when the ring is small.
extension ServerConnection {
    /// Opens this connection's ring cursor and has the reactor wake it after each publish. The
    /// reactor counts it first, so no publish after the cursor's start can go without a wake-up.
    func startFollowingRing(from start: RingSubscriber.Start) throws(RingError) -> RingSubscriber {
        reactor.addRingFollower(self)
        do {
            // Replacement checks are for readers that outlive a daemon; this one dies with it.
            let subscriber = try RingSubscriber(path: context.ring.path, start: start, replacementCheckMilliseconds: 0)
            ringSubscriber = subscriber
            return subscriber
        } catch {
            reactor.removeRingFollower(self)
            throw error
        }
    }

    func stopFollowingRing() {
        guard ringSubscriber != nil else { return }
        ringSubscriber = nil
        reactor.removeRingFollower(self)
    }

    /// Moves ready ring events into the output, up to the cap, encoded for the connection's protocol;
    /// called after each publish (by the reactor), after input, and when the output has drained.
    func pumpRing() {
        guard let subscriber = ringSubscriber, !isClosed, state != .outputBroken else { return }
        // A tracking client hears of its own writes after their replies, as Redis sends invalidations
        // after the reply of the command that caused them: wait for its writes (completing one pumps).
        if pendingWrites > 0, case .resp(let resp) = session, resp.tracking != nil { return }
        // One field, not a copy of the whole configuration: this runs after every publish.
        let hardLimit = context.configuration.pubsubHardLimit
        while pendingOutput < hardLimit, let event = subscriber.poll() {
            switch session {
            case .resp(let resp): resp.publishKeyspaceEvent(event)
            case .native(let native): native.writeWatchEvent(event)
            case .detecting, .nativeHandshake, .refusing, .replica: preconditionFailure("only a serving session follows the ring")
            }
        }
        if case .resp(let resp) = session { resp.flushBroadcastInvalidations() }
        if pendingOutput >= hardLimit {
            return dropSlowFollower("reached limits.pubsubHardLimit (\(hardLimit) bytes)")
        }
        checkSoftOutputLimit()
    }

    /// Closes a follower whose unsent events stayed over the soft limit for too long; called after each
    /// pump and by the reactor's housekeeping, so a client that reads nothing is caught too.
    func checkSoftOutputLimit() {
        guard ringSubscriber != nil, !isClosed else { return }
        let softLimit = context.configuration.pubsubSoftLimit
        guard pendingOutput >= softLimit else { overSoftLimitSince = nil; return }
        let since = overSoftLimitSince ?? loop.now
        overSoftLimitSince = since
        let seconds = context.configuration.pubsubSoftSeconds
        if loop.now - since >= seconds * 1000 {
            dropSlowFollower("stayed over limits.pubsubSoftLimit (\(softLimit) bytes) for \(seconds) s")
        }
    }

    private func dropSlowFollower(_ why: String) {
        ServerStats.add(context.stats.outputLimitDisconnections)
        context.logger.warning("closing a subscriber that does not read: its unsent events \(why)")
        close()
    }
}
