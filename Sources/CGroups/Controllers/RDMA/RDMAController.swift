/// The `rdma` controller (read-only here): per RDMA device counts of HCA handles and
/// objects, in use (`rdma.current`) and allowed (`rdma.max`). The files are empty on hosts
/// without RDMA devices.
public enum RDMAController: CGroupController {
    public static let name = "rdma"
    public static let statFiles = ["rdma.current", "rdma.max"]
}
