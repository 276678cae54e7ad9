// The load harness; see Load.swift.
