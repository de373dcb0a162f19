import XCTest
import FluxsYAML
@testable import FluxsCore

/// kstatus's rules for objects a Kustomization waits for (sigs.k8s.io/cli-utils/pkg/kstatus/status/core.go).
final class HealthTests: XCTestCase {
    func health(_ yaml: String) throws -> KStatus { Health.of(try YAML.parse(yaml)) }

    func testServicesAreCurrentOnceTheyHaveAClusterIP() throws {
        // serviceConditions: only a LoadBalancer without spec.clusterIP is in progress; no external address is awaited.
        XCTAssertEqual(try health("kind: Service\nspec: {type: LoadBalancer}\nstatus: {loadBalancer: {}}\n"), .inProgress)
        XCTAssertEqual(try health("kind: Service\nspec: {type: LoadBalancer, clusterIP: \"\"}\n"), .inProgress)
        XCTAssertEqual(try health("kind: Service\nspec: {type: LoadBalancer, clusterIP: 10.96.0.12}\nstatus: {loadBalancer: {}}\n"), .current)
        XCTAssertEqual(try health("kind: Service\nspec: {type: LoadBalancer, clusterIP: 10.96.0.12}\nstatus: {loadBalancer: {ingress: [{hostname: a.elb.amazonaws.com}]}}\n"), .current)
        XCTAssertEqual(try health("kind: Service\nspec: {ports: [{port: 80}]}\n"), .current, "ClusterIP (the default type)")
        XCTAssertEqual(try health("kind: Service\nspec: {type: NodePort}\n"), .current)
        XCTAssertEqual(try health("kind: Service\nspec: {type: ExternalName, externalName: example.com}\n"), .current)
    }
}
