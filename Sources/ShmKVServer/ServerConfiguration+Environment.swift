import Foundation

extension ServerConfiguration {
    /// The environment variable that sets `key` (`storage.mapSize` → `SHMKV_STORAGE_MAP_SIZE`).
    public static func environmentName(of key: String) -> String {
        var name = "SHMKV_"
        for character in key {
            if character == "." { name += "_" } else if character.isUppercase { name += "_" + String(character) } else { name += character.uppercased() }
        }
        return name
    }

    /// `SHMKV_*` variables that are neither a setting of the daemon nor one the CLI or the daemon reads
    /// by name (SHMKV_CONFIG, SHMKV_AUTH_PASSWORD, SHMKV_SOCKET …), each with the nearest known name: a
    /// misspelt variable would otherwise be ignored without a word (a misspelt YAML key is refused).
    public static func unknownEnvironmentVariables(in environment: [String: String] = ProcessInfo.processInfo.environment)
        -> [(name: String, nearest: String?)] {
        let known = Set(knownKeys.map(environmentName(of:))).union([
            "SHMKV_CONFIG", "SHMKV_AUTH_PASSWORD", "SHMKV_AUTH_PASSWORD_FILE",
            // Read by the shmkv CLI, harmless in the daemon's environment.
            "SHMKV_SOCKET", "SHMKV_PASSWORD", "SHMKV_HISTFILE",
        ])
        return environment.keys.filter { $0.hasPrefix("SHMKV_") && !known.contains($0) }.sorted().map { name in
            let nearest = known.map { ($0, editDistance(Array(name), Array($0))) }.filter { $0.1 <= 3 }.min { $0.1 < $1.1 }?.0
            return (name, nearest)
        }
    }

    /// Levenshtein distance, for suggesting the name meant.
    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() { current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))) }
            previous = current
        }
        return previous[b.count]
    }
}
