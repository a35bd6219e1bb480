@testable import PlantarDrivers
import PlantarCore
import Testing

@Suite("Pin map")
struct PinLayoutTests {
    @Test func resolvesEveryRoleOfTheReferenceDevice() throws {
        let layout = try GPIOPinLayout.resolve(referenceProfile())
        #expect(layout.requests.count == 22)
        #expect(layout.outputs.count == 14)
        #expect(layout.requests.allSatisfy { $0.restValue == nil || $0.restValue == false })
        #expect(layout.requests[layout.discomfortSwitch].direction == .edges)
        #expect(layout.requests[layout.easeButton!].direction == .edges)
        #expect(layout.requests[layout.feet[.right]!.enable].line.activeLow)
        // Pressure goes first: valves and pumps of both feet, then enables, then step/dir.
        let first = layout.restOrder.prefix(4).map { layout.requests[$0].role }
        #expect(Set(first) == ["left.valve", "left.pump", "right.valve", "right.pump"])
        #expect(layout.restOrder.count == 14)
        #expect(layout.restOrder[4...5].map { layout.requests[$0].role }.allSatisfy { $0.hasSuffix(".enable") })
    }

    @Test func namesEveryMissingRole() {
        let profile = referenceProfile { $0["left.pump"] = nil; $0["discomfort-switch"] = nil }
        #expect {
            try GPIOPinLayout.resolve(profile)
        } throws: { error in
            let e = error as! GPIOError
            return e.kind == .pinMap && e.description.contains("'left.pump'") && e.description.contains("'discomfort-switch'")
        }
    }

    @Test func namesAnUnknownRole() {
        let profile = referenceProfile { $0["right.pmup"] = GPIOLine(offset: 30) }
        #expect {
            try GPIOPinLayout.resolve(profile)
        } throws: { error in
            (error as! GPIOError).description.contains("unknown role 'right.pmup'")
        }
    }

    @Test func optionalInputsMayBeAbsent() throws {
        let profile = referenceProfile { lines in
            for role in ["ease-button", "right.presence", "left.u.home"] { lines[role] = nil }
        }
        let layout = try GPIOPinLayout.resolve(profile)
        #expect(layout.easeButton == nil)
        #expect(layout.feet[.right]!.presence == nil)
        #expect(layout.requests.count == 19)
    }

    @Test func refusesAProfileWithoutPinMap() {
        var profile = referenceProfile()
        profile.gpio = nil
        #expect(throws: GPIOError.self) { try GPIOPinLayout.resolve(profile) }
    }

    @Test func aMissingChipIsNamed() {
        #expect {
            _ = try GPIOEngine(bank: try InMemoryLineBank(), profile: referenceProfile(chip: "gpiochip7"), options: testOptions(), now: 0)
        } throws: { error in
            let e = error as! GPIOError
            return e.kind == .chipNotFound && e.description.contains("'gpiochip7'")
        }
    }

    @Test func aLineBeyondTheChipIsNamed() throws {
        let bank = try InMemoryLineBank(lineCount: 16)
        #expect {
            _ = try GPIOEngine(bank: bank, profile: referenceProfile(), options: testOptions(), now: 0)
        } throws: { error in
            let e = error as! GPIOError
            return e.kind == .lineMissing && e.description == "gpio line 'left.valve' (gpiochip0 offset 16) does not exist: gpiochip0 has 16 lines"
        }
    }

    @Test func aBusyLineIsNamedWithItsHolder() throws {
        let bank = try InMemoryLineBank(held: [5: "other-daemon"])
        #expect {
            _ = try GPIOEngine(bank: bank, profile: referenceProfile(), options: testOptions(), now: 0)
        } throws: { error in
            let e = error as! GPIOError
            return e.kind == .lineBusy && e.description == "gpio line 'right.pump' (gpiochip0 offset 5) is busy, used by 'other-daemon'"
        }
        #expect(bank.isReleased)
    }

    @Test func outputsAreClaimedAtRest() throws {
        let bank = wiredBank()
        _ = try GPIOEngine(bank: bank, profile: referenceProfile(), options: testOptions(), now: 0)
        #expect(outputs(bank) == outputsAtRest)
        // Enable is active-low: at rest (disabled) the pin is high.
        #expect(bank.level(offset: 4) == true)
        #expect(bank.level(offset: 5) == false)
        #expect(bank.writes().isEmpty)
    }
}
