use super::*;
// The crate is `no_std` without its `std` feature; the tests format topics
// into `String`s either way.
extern crate std;
use std::string::ToString;

#[test]
fn builds_each_kind_of_store_topic() {
    let built = TopicKind::ALL.map(|k| Topic::new("S-042", k).to_string());
    assert_eq!(
        built,
        [
            "aisle/v1/stores/S-042/events",
            "aisle/v1/stores/S-042/status",
            "aisle/v1/stores/S-042/tags",
            "aisle/v1/stores/S-042/commands",
        ]
    );
}

#[test]
fn parses_what_it_builds() {
    for kind in TopicKind::ALL {
        let text = Topic::new("berlin_mitte-1", kind).to_string();
        assert_eq!(Topic::parse(&text), Ok(Topic::new("berlin_mitte-1", kind)));
    }
}

#[test]
fn rejects_topics_of_another_shape() {
    for (topic, error) in [
        ("aisle/v2/stores/S1/events", TopicError::Prefix),
        ("aisle/v1/storesS1/events", TopicError::Prefix),
        ("aisle/v1/stores", TopicError::Prefix),
        ("aisle/v1/stores/S1", TopicError::Kind),
        ("aisle/v1/stores/S1/", TopicError::Kind),
        ("aisle/v1/stores/S1/metrics", TopicError::Kind),
        ("aisle/v1/stores/a/b/events", TopicError::Kind),
        ("aisle/v1/stores/S1/events/x", TopicError::Kind),
        ("aisle/v1/stores//events", TopicError::Store),
        ("aisle/v1/stores/+/events", TopicError::Store),
        ("aisle/v1/stores/#/events", TopicError::Store),
    ] {
        assert_eq!(Topic::parse(topic), Err(error), "{topic}");
    }
}

#[test]
fn filters_subscribe_to_every_store_alone_or_shared() {
    assert_eq!(
        Filter::every_store(TopicKind::Events).to_string(),
        "aisle/v1/stores/+/events"
    );
    assert_eq!(
        Filter::every_store(TopicKind::Tags).to_string(),
        "aisle/v1/stores/+/tags"
    );
    assert_eq!(
        Filter::shared("hq", TopicKind::Status).to_string(),
        "$share/hq/aisle/v1/stores/+/status"
    );
}
