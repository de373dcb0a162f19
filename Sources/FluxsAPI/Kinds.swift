import FluxsKube

/// The Flux kinds the CLI works with, as flux's internal API type table
/// describes them (kind, human kind used in messages, group/version, resource).
public struct FluxKind: Sendable, Hashable {
    public let kind: String
    public let humanKind: String
    public let group: String
    public let version: String
    public let plural: String

    public var apiVersion: String { "\(group)/\(version)" }
    public var crdName: String { "\(plural).\(group)" }
    /// Every Flux kind is namespaced; knowing the resource spares a discovery request.
    public var resource: ResourceRef {
        ResourceRef(group: group, version: version, resource: plural, kind: kind, namespaced: true)
    }
}

public enum FluxKinds {
    public static let gitRepository = FluxKind(kind: "GitRepository", humanKind: "source git", group: "source.toolkit.fluxcd.io", version: "v1", plural: "gitrepositories")
    public static let ociRepository = FluxKind(kind: "OCIRepository", humanKind: "source oci", group: "source.toolkit.fluxcd.io", version: "v1", plural: "ocirepositories")
    public static let bucket = FluxKind(kind: "Bucket", humanKind: "source bucket", group: "source.toolkit.fluxcd.io", version: "v1", plural: "buckets")
    public static let helmRepository = FluxKind(kind: "HelmRepository", humanKind: "source helm", group: "source.toolkit.fluxcd.io", version: "v1", plural: "helmrepositories")
    public static let helmChart = FluxKind(kind: "HelmChart", humanKind: "source chart", group: "source.toolkit.fluxcd.io", version: "v1", plural: "helmcharts")
    public static let externalArtifact = FluxKind(kind: "ExternalArtifact", humanKind: "source external-artifact", group: "source.toolkit.fluxcd.io", version: "v1", plural: "externalartifacts")
    public static let kustomization = FluxKind(kind: "Kustomization", humanKind: "kustomization", group: "kustomize.toolkit.fluxcd.io", version: "v1", plural: "kustomizations")
    public static let helmRelease = FluxKind(kind: "HelmRelease", humanKind: "helmrelease", group: "helm.toolkit.fluxcd.io", version: "v2", plural: "helmreleases")
    public static let imageRepository = FluxKind(kind: "ImageRepository", humanKind: "image repository", group: "image.toolkit.fluxcd.io", version: "v1", plural: "imagerepositories")
    public static let imagePolicy = FluxKind(kind: "ImagePolicy", humanKind: "image policy", group: "image.toolkit.fluxcd.io", version: "v1", plural: "imagepolicies")
    public static let imageUpdateAutomation = FluxKind(kind: "ImageUpdateAutomation", humanKind: "image update automation", group: "image.toolkit.fluxcd.io", version: "v1", plural: "imageupdateautomations")
    public static let receiver = FluxKind(kind: "Receiver", humanKind: "receiver", group: "notification.toolkit.fluxcd.io", version: "v1", plural: "receivers")
    public static let provider = FluxKind(kind: "Provider", humanKind: "alert provider", group: "notification.toolkit.fluxcd.io", version: "v1beta3", plural: "providers")
    public static let alert = FluxKind(kind: "Alert", humanKind: "alert", group: "notification.toolkit.fluxcd.io", version: "v1beta3", plural: "alerts")
    public static let artifactGenerator = FluxKind(kind: "ArtifactGenerator", humanKind: "artifactgenerator", group: "source.extensions.fluxcd.io", version: "v1beta1", plural: "artifactgenerators")

    public static let all: [FluxKind] = [
        gitRepository, ociRepository, bucket, helmRepository, helmChart, externalArtifact, kustomization, helmRelease,
        imageRepository, imagePolicy, imageUpdateAutomation, receiver, provider, alert, artifactGenerator,
    ]

    public static func named(_ kind: String) -> FluxKind? {
        all.first { $0.kind.lowercased() == kind.lowercased() }
    }
}
