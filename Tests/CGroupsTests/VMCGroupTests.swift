@testable import CGroups
import Foundation
import Testing

@Suite("libvirt guest cgroups (VM helper)")
struct VMCGroupTests {
    @Test func machineAndScopeNamesFollowLibvirtAndSystemd() {
        #expect(VMCGroup.machineName(id: 3, name: "web-1") == "qemu-3-web-1")
        #expect(VMCGroup.machineName(id: 7, name: ".hidden/name with spaces") == "qemu-7-hiddennamewithspaces")
        #expect(VMCGroup.machineName(id: 1, name: String(repeating: "a", count: 100)).count == "qemu-1-".count + 64)
        #expect(VMCGroup.scopeName(machine: "qemu-3-web-1") == "machine-qemu\\x2d3\\x2dweb\\x2d1.scope")
    }

    /// A host with one guest under machine.slice, laid out as libvirt + systemd make it.
    func hostWithGuest(_ fake: FakeCGroupFS, scope: String) throws {
        try fake.mkdirLikeKernel("machine.slice")
        try fake.set("", "cgroup.subtree_control", "cpu memory\n")
        try fake.set("machine.slice", "cgroup.subtree_control", "cpu memory\n")
        try fake.mkdirLikeKernel("machine.slice/\(scope)")
        try fake.set("machine.slice/\(scope)", "cgroup.subtree_control", "cpu memory\n")
        try fake.mkdirLikeKernel("machine.slice/\(scope)/libvirt")
        try fake.set("machine.slice/\(scope)/libvirt", "cgroup.subtree_control", "cpu\n")
        for thread in ["emulator", "vcpu0", "vcpu1", "vcpu2"] {
            try fake.mkdirLikeKernel("machine.slice/\(scope)/libvirt/\(thread)")
        }
    }

    @Test func findsAGuestByIdAndNameAndAppliesPerVCPUAndEmulatorLimits() throws {
        let fake = try FakeCGroupFS()
        defer { fake.remove() }
        let scope = "machine-qemu\\x2d3\\x2dweb\\x2d1.scope"
        try hostWithGuest(fake, scope: scope)
        let tree = try fake.tree()
        let vm = try #require(try VMCGroup.find(in: tree, id: 3, name: "web-1"))
        #expect(vm.scope.path == "machine.slice/\(scope)")
        #expect(vm.threadsParent.name == "libvirt")
        #expect(vm.vcpus.keys.sorted() == [0, 1, 2])
        #expect(vm.emulator?.name == "emulator")

        try vm.apply(
            vcpu: CGroupResources(cpu: .init(max: try CPUMax(quota: .value(50_000), period: 100_000))),
            emulator: CGroupResources(cpu: .init(weight: try CPUWeight(50))))
        for n in 0...2 { #expect(fake.contents("machine.slice/\(scope)/libvirt/vcpu\(n)", "cpu.max") == "50000 100000") }
        #expect(fake.contents("machine.slice/\(scope)/libvirt/emulator", "cpu.weight") == "50")

        // Without the domain id, the guest is found by its name alone.
        #expect(try VMCGroup.find(in: tree, id: nil, name: "web-1")?.scope == vm.scope)
        #expect(try VMCGroup.find(in: tree, id: 4, name: "web-1") == nil)
        #expect(try VMCGroup.find(in: tree, id: nil, name: "web-2") == nil)
    }

    @Test func anInvalidLimitWritesNothing() throws {
        let fake = try FakeCGroupFS()
        defer { fake.remove() }
        let scope = "machine-qemu\\x2d1\\x2ddb.scope"
        try hostWithGuest(fake, scope: scope)
        let vm = try #require(try VMCGroup.find(in: try fake.tree(), id: 1, name: "db"))
        #expect(throws: CGroupError.self) {
            try vm.apply(vcpu: CGroupResources(settings: [("cpu.weight", "0")]), emulator: nil)
        }
        #expect(fake.contents("machine.slice/\(scope)/libvirt/vcpu0", "cpu.weight") == "100\n")
    }
}
