/// The keys of a slot migration in flight between two shards a cluster follower replicates. Redis's
/// MIGRATE has the target run RESTORE-ASKING (which its stream carries) and then the source delete the
/// key (its stream carries a DEL); the two streams reach this store on two connections, in no set
/// order, so the source's DEL could land after the target's RESTORE and lose the key. A RESTORE that a
/// shard's stream brings for a slot another link holds (the migration has not ended, or this follower
/// has not seen it end) claims the key for that shard; another link's DEL (or UNLINK) of a claimed
/// key is dropped, and the claim with it. Claims of a slot end when the topology shows the slot in the
/// claimer's hands. Lives on the follower's reactor, as its links.
final class MigrationClaims {
    /// The link that holds each slot (-1: none).
    private var holders = [Int16](repeating: -1, count: ClusterMap.slotCount)
    /// Claimed keys and the link whose stream restored them.
    private var claims: [[UInt8]: Int] = [:]

    var count: Int { claims.count }
    /// Keys whose old shard's DEL was dropped (for INFO).
    private(set) var dropped = 0

    /// The links and their slots now; claims of a slot its claimer now holds end.
    func update(_ links: [(index: Int, slots: SlotSet)]) {
        holders = [Int16](repeating: -1, count: ClusterMap.slotCount)
        for (index, slots) in links {
            for range in slots.ranges { for slot in range { holders[slot] = Int16(index) } }
        }
        claims = claims.filter { key, claimer in Int(holders[ClusterMap.slot(key)]) != claimer }
    }

    /// Keys a link other than `link` claimed (a full sync of `link` leaves them alone).
    func keys(claimedByOtherThan link: Int) -> Set<[UInt8]> {
        Set(claims.lazy.filter { $0.value != link }.map(\.key))
    }

    /// What of a command of `link`'s stream is to run: its arguments, fewer keys, or nothing (nil).
    func filter(_ command: Command, _ args: RESPArguments, link: Int) -> RESPArguments? {
        switch command.name {
        case "restore", "restore-asking":
            guard args.count > 1 else { return args }
            let key = args.bytes(1)
            let holder = Int(holders[ClusterMap.slot(key)])
            if holder >= 0 && holder != link { claims[key] = link }
            return args
        case "del", "unlink":
            guard !claims.isEmpty, args.count > 1 else { return args }
            var kept = [args.ranges[0]]
            for i in 1..<args.count {
                let key = args.bytes(i)
                if let claimer = claims[key], claimer != link {
                    claims[key] = nil
                    dropped += 1
                } else {
                    kept.append(args.ranges[i])
                }
            }
            if kept.count == args.count { return args }
            return kept.count == 1 ? nil : RESPArguments(base: args.base, ranges: kept)
        default:
            return args
        }
    }
}
