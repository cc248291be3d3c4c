//! Every emulated operation, called with the real AWS SDK for Rust: the answers
//! must parse into the SDK's types with the values the package folder implies.

use aws_sdk_codeartifact::types::{
    AllowPublish, AllowUpstream, DomainStatus, HashAlgorithm, PackageFormat, PackageVersionOriginType,
    PackageVersionStatus,
};

use crate::support::*;

#[test]
fn get_authorization_token() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        let before = std::time::SystemTime::now();
        let out = client.get_authorization_token().domain("sandbox-domain").send().await.unwrap();
        let token = out.authorization_token().unwrap().to_owned();
        // Shaped like a real token: five base64url segments, JSON header first.
        assert!(token.starts_with("eyJ2ZXIiOjEsImlzdSI6"), "{}", &token[..40]);
        assert_eq!(token.split('.').count(), 5);
        assert!(token.len() > 1000);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        // No duration: 12 h.
        let expiration = out.expiration().unwrap().secs() as u64;
        let expected = epoch(before) + 43_200;
        assert!((expected - 2..=expected + 2).contains(&expiration), "{expiration} vs {expected}");

        // The same token until it expires, whatever the duration asked for.
        let again =
            client.get_authorization_token().domain("sandbox-domain").duration_seconds(900).send().await.unwrap();
        assert_eq!(again.authorization_token(), Some(token.as_str()));

        // The password file holds a hash of the token, never the token.
        let htpasswd = std::fs::read_to_string(fx.dir.path().join("htpasswd")).unwrap();
        assert!(htpasswd.starts_with("aws:{SHA}"), "{htpasswd}");
        assert!(!htpasswd.contains(&token[..30]));

        // Expiring it: a fresh token with the duration asked for now.
        assert!(fx.emulator.expire_token().unwrap());
        let fresh =
            client.get_authorization_token().domain("sandbox-domain").duration_seconds(900).send().await.unwrap();
        assert_ne!(fresh.authorization_token(), Some(token.as_str()));
        let expiration = fresh.expiration().unwrap().secs() as u64;
        assert!((epoch(before) + 898..=epoch(before) + 960).contains(&expiration));
        assert_ne!(std::fs::read_to_string(fx.dir.path().join("htpasswd")).unwrap(), htpasswd);

        // duration 0: tied to the session, which castack takes as one hour.
        fx.emulator.expire_token().unwrap();
        let session =
            client.get_authorization_token().domain("sandbox-domain").duration_seconds(0).send().await.unwrap();
        let expiration = session.expiration().unwrap().secs() as u64;
        assert!((epoch(before) + 3598..=epoch(before) + 3660).contains(&expiration));
        assert_eq!(fx.emulator.current_token().unwrap().value, session.authorization_token().unwrap());
    });
    let log = fx.emulator.requests();
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|it| it.operation == "GetAuthorizationToken" && it.status == 200));
    assert_eq!(log[0].access_key_id.as_deref(), Some(ACCESS_KEY));
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, "/v1/authorization-token");
    assert!(log[1].query.as_deref().unwrap().contains("duration=900"));
}

#[test]
fn rotate_token() {
    let fx = fixture();
    let first = fx.emulator.issue_token(None).unwrap();
    let second = fx.emulator.rotate_token().unwrap();
    assert_ne!(first.value, second.value);
    assert_eq!(fx.emulator.current_token(), Some(second.clone()));
    assert!(!format!("{second:?}").contains(&second.value[..20]), "Debug must redact the token");
}

#[test]
fn get_repository_endpoint() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        let out = client
            .get_repository_endpoint()
            .domain("sandbox-domain")
            .domain_owner("111122223333")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .send()
            .await
            .unwrap();
        let expected = format!("http://{}/pypi/sandbox-repo/", fx.emulator.addr());
        assert_eq!(out.repository_endpoint(), Some(expected.as_str()));
        assert_eq!(fx.emulator.pypi_endpoint(), expected);
    });
}

#[test]
fn list_package_versions() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        // Asked with a non-normalized name: not found, with a hint.
        let err = client
            .list_package_versions()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("Demo_Pkg")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        assert!(format!("{err:?}").contains("try 'demo-pkg'"), "{err:?}");

        let out = client
            .list_package_versions()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .send()
            .await
            .unwrap();
        assert_eq!(out.package(), Some("demo-pkg"));
        assert_eq!(out.format(), Some(&PackageFormat::Pypi));
        assert_eq!(out.default_display_version(), Some("1.1.0"));
        let versions: Vec<&str> = out.versions().iter().map(|it| it.version()).collect();
        assert_eq!(versions, ["1.0.0", "1.1.0"]);
        for version in out.versions() {
            assert_eq!(version.status(), &PackageVersionStatus::Published);
            assert!(version.revision().is_some_and(|it| !it.is_empty()));
            let origin = version.origin().unwrap();
            assert_eq!(origin.origin_type(), Some(&PackageVersionOriginType::Internal));
            assert_eq!(origin.domain_entry_point().unwrap().repository_name(), Some("sandbox-repo"));
        }
        assert!(out.next_token().is_none());

        // Pagination, the way the SDK's paginator walks it.
        let pages: Vec<_> = client
            .list_package_versions()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .max_results(1)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].versions()[0].version(), "1.0.0");
        assert_eq!(pages[1].versions()[0].version(), "1.1.0");

        // Filters: no version has another status.
        let out = client
            .list_package_versions()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("other-thing")
            .status(PackageVersionStatus::Archived)
            .send()
            .await
            .unwrap();
        assert!(out.versions().is_empty());
    });
}

#[test]
fn describe_package_version() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        let out = client
            .describe_package_version()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .package_version("1.0.0")
            .send()
            .await
            .unwrap();
        let version = out.package_version().unwrap();
        assert_eq!(version.package_name(), Some("demo-pkg"));
        assert_eq!(version.display_name(), Some("demo_pkg"));
        assert_eq!(version.version(), Some("1.0.0"));
        assert_eq!(version.format(), Some(&PackageFormat::Pypi));
        assert_eq!(version.status(), Some(&PackageVersionStatus::Published));
        // Epoch seconds: the earliest file of the version.
        assert_eq!(version.published_time().unwrap().secs() as u64, PUBLISHED_100);
        assert!(version.namespace().is_none());

        let err = client
            .describe_package_version()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .package_version("9.9.9")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        match err {
            aws_sdk_codeartifact::operation::describe_package_version::DescribePackageVersionError::ResourceNotFoundException(e) => {
                assert_eq!(e.resource_id(), Some("9.9.9"));
                assert_eq!(e.resource_type(), Some(&aws_sdk_codeartifact::types::ResourceType::PackageVersion));
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn list_package_version_assets() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        let out = client
            .list_package_version_assets()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .package_version("1.0.0")
            .send()
            .await
            .unwrap();
        assert_eq!(out.package(), Some("demo-pkg"));
        assert_eq!(out.version(), Some("1.0.0"));
        assert!(out.version_revision().is_some_and(|it| (1..=50).contains(&it.len())));
        let names: Vec<&str> = out.assets().iter().map(|it| it.name()).collect();
        assert_eq!(names, [WHEEL_100, SDIST_100]);
        let wheel = &out.assets()[0];
        assert_eq!(wheel.size(), Some(11));
        let hashes = wheel.hashes().unwrap();
        assert_eq!(hashes[&HashAlgorithm::Md5], WHEEL_100_MD5);
        assert_eq!(hashes[&HashAlgorithm::Sha1], WHEEL_100_SHA1);
        assert_eq!(hashes[&HashAlgorithm::Sha256], WHEEL_100_SHA256);
        assert_eq!(hashes[&HashAlgorithm::Sha512], WHEEL_100_SHA512);
        assert_eq!(out.assets()[1].hashes().unwrap()[&HashAlgorithm::Sha256], SDIST_100_SHA256);

        // One asset per page.
        let first = client
            .list_package_version_assets()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .package_version("1.0.0")
            .max_results(1)
            .send()
            .await
            .unwrap();
        assert_eq!(first.assets().len(), 1);
        let second = client
            .list_package_version_assets()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("demo-pkg")
            .package_version("1.0.0")
            .max_results(1)
            .next_token(first.next_token().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(second.assets()[0].name(), SDIST_100);
        assert!(second.next_token().is_none());
    });
}

#[test]
fn describe_package_and_origin_restrictions() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        let describe = || {
            client
                .describe_package()
                .domain("sandbox-domain")
                .repository("sandbox-repo")
                .format(PackageFormat::Pypi)
                .package("other-thing")
                .send()
        };
        let out = describe().await.unwrap();
        let package = out.package().unwrap();
        assert_eq!(package.name(), Some("other-thing"));
        assert_eq!(package.format(), Some(&PackageFormat::Pypi));
        let restrictions = package.origin_configuration().unwrap().restrictions().unwrap();
        assert_eq!(restrictions.publish(), &AllowPublish::Allow);
        assert_eq!(restrictions.upstream(), &AllowUpstream::Block);

        fx.emulator.set_origin_restrictions(castack::OriginRestrictions {
            publish: castack::Restriction::Block,
            upstream: castack::Restriction::Allow,
        });
        let out = describe().await.unwrap();
        let restrictions = out.package().unwrap().origin_configuration().unwrap().restrictions().unwrap();
        assert_eq!(restrictions.publish(), &AllowPublish::Block);
        assert_eq!(restrictions.upstream(), &AllowUpstream::Allow);

        let err = client
            .describe_package()
            .domain("sandbox-domain")
            .repository("sandbox-repo")
            .format(PackageFormat::Pypi)
            .package("missing")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
    });
}

#[test]
fn describe_repository_and_domain() {
    let fx = fixture();
    rt().block_on(async {
        let client = client(&fx.emulator).await;
        let out =
            client.describe_repository().domain("sandbox-domain").repository("sandbox-repo").send().await.unwrap();
        let repo = out.repository().unwrap();
        assert_eq!(repo.name(), Some("sandbox-repo"));
        assert_eq!(repo.domain_name(), Some("sandbox-domain"));
        assert_eq!(repo.domain_owner(), Some("111122223333"));
        assert_eq!(repo.administrator_account(), Some("111122223333"));
        assert_eq!(
            repo.arn(),
            Some("arn:aws:codeartifact:us-east-1:111122223333:repository/sandbox-domain/sandbox-repo")
        );
        assert!(repo.upstreams().is_empty());
        assert!(repo.created_time().is_some());

        let out = client.describe_domain().domain("sandbox-domain").send().await.unwrap();
        let domain = out.domain().unwrap();
        assert_eq!(domain.name(), Some("sandbox-domain"));
        assert_eq!(domain.owner(), Some("111122223333"));
        assert_eq!(domain.arn(), Some("arn:aws:codeartifact:us-east-1:111122223333:domain/sandbox-domain"));
        assert_eq!(domain.status(), Some(&DomainStatus::Active));
        assert_eq!(domain.repository_count(), 1);
        // 11 + 11 + 11 + 5 bytes of distributions; README.txt does not count.
        assert_eq!(domain.asset_size_bytes(), 38);
        let created = domain.created_time().unwrap().secs() as u64;
        assert!(created.abs_diff(epoch(std::time::SystemTime::now())) < 60);
    });
}

#[test]
fn configured_names() {
    let fx = fixture_with(|config| {
        config.account = "210987654321".into();
        config.region = "eu-west-1".into();
        config.domain = "acme".into();
        config.repository = "py.internal".into();
    });
    rt().block_on(async {
        // A client in another region is refused: its credential scope is wrong.
        let client = client(&fx.emulator).await;
        let err = client.describe_domain().domain("acme").send().await.unwrap_err().into_service_error();
        assert_eq!(aws_sdk_codeartifact::error::ProvideErrorMetadata::code(&err), Some("InvalidSignatureException"));

        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_codeartifact::config::Credentials::new(ACCESS_KEY, SECRET, None, None, "t"))
            .endpoint_url(fx.emulator.url())
            .http_client(http)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .load()
            .await;
        let client = aws_sdk_codeartifact::Client::new(&config);
        let out = client.describe_repository().domain("acme").repository("py.internal").send().await.unwrap();
        assert_eq!(
            out.repository().unwrap().arn(),
            Some("arn:aws:codeartifact:eu-west-1:210987654321:repository/acme/py.internal")
        );
        let out = client
            .get_repository_endpoint()
            .domain("acme")
            .repository("py.internal")
            .format(PackageFormat::Pypi)
            .send()
            .await
            .unwrap();
        assert!(out.repository_endpoint().unwrap().ends_with("/pypi/py.internal/"));
        // domain-owner defaults to the configured account; another owner has no such domain.
        let err = client
            .describe_domain()
            .domain("acme")
            .domain_owner("111122223333")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
    });
}
