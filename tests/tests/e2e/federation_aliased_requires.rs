//! Aliased `@requires` fields: the client asks for `comments(limit: 1)`
//! while `author` requires `comments(limit: 3) { authorId }`, so the planner
//! fetches the latter as `_internal_qp_alias_0` and its requires selection
//! reads `comments: _internal_qp_alias_0 { authorId }`. The representation
//! must carry the three comments under `comments`.

use async_graphql::{
    EmptyMutation, EmptySubscription, ID, InputObject, Object, Schema, SimpleObject,
};
use serde_json::json;
use tests::federation_cases::{CaseGateway, RecordingSubgraph};

const SUPERGRAPH: &str = r#"
enum join__Graph {
  POSTS @join__graph(name: "posts", url: "$posts")
  SOCIAL @join__graph(name: "social", url: "$social")
}

type Query @join__type(graph: POSTS) @join__type(graph: SOCIAL) {
  feed: [Post] @join__field(graph: POSTS)
}

type Post @join__type(graph: POSTS, key: "id") @join__type(graph: SOCIAL, key: "id") {
  id: ID!
  author: Author @join__field(graph: SOCIAL, requires: "comments(limit: 3) { authorId }")
  comments(limit: Int!): [Comment] @join__field(graph: SOCIAL)
}

type Comment @join__type(graph: POSTS, key: "id") @join__type(graph: SOCIAL, key: "id") {
  id: ID!
  authorId: ID @join__field(graph: POSTS) @join__field(graph: SOCIAL, external: true)
}

type Author @join__type(graph: SOCIAL) {
  id: ID!
}
"#;

#[derive(SimpleObject)]
struct Post {
    id: ID,
}

#[derive(SimpleObject)]
struct Comment {
    id: ID,
    author_id: ID,
}

struct PostsQuery;

#[Object(name = "Query")]
impl PostsQuery {
    async fn feed(&self) -> Vec<Post> {
        vec![Post { id: ID::from("p1") }]
    }

    #[graphql(entity)]
    async fn comment_by_id(&self, id: ID) -> Comment {
        Comment {
            author_id: ID::from(format!("author of {}", id.as_str())),
            id,
        }
    }
}

#[derive(InputObject)]
struct RequiredComment {
    author_id: Option<ID>,
}

/// `Post` in `social`: its comments, and the author computed from the
/// required comments.
struct SocialPost {
    id: ID,
    required: Option<Vec<RequiredComment>>,
}

#[Object(name = "Post")]
impl SocialPost {
    async fn id(&self) -> &ID {
        &self.id
    }

    async fn comments(&self, limit: i32) -> Vec<SocialComment> {
        (1..=limit)
            .map(|i| SocialComment {
                id: ID::from(format!("{}-c{i}", self.id.as_str())),
            })
            .collect()
    }

    /// The author's id lists the required comments' authors.
    async fn author(&self) -> Option<Author> {
        let required = self.required.as_ref()?;
        let ids: Vec<&str> = required
            .iter()
            .filter_map(|c| c.author_id.as_deref().map(String::as_str))
            .collect();
        Some(Author {
            id: ID::from(ids.join(",")),
        })
    }
}

#[derive(SimpleObject)]
#[graphql(name = "Comment")]
struct SocialComment {
    id: ID,
}

#[derive(SimpleObject)]
struct Author {
    id: ID,
}

struct SocialQuery;

#[Object(name = "Query")]
impl SocialQuery {
    #[graphql(entity)]
    async fn post_by_id(
        &self,
        #[graphql(key)] id: ID,
        comments: Option<Vec<RequiredComment>>,
    ) -> SocialPost {
        SocialPost {
            id,
            required: comments,
        }
    }
}

#[tokio::test]
async fn aliased_required_fields_are_sent_under_their_field_name() {
    let posts = RecordingSubgraph::start(
        Schema::build(PostsQuery, EmptyMutation, EmptySubscription).finish(),
    )
    .await;
    let social = RecordingSubgraph::start(
        Schema::build(SocialQuery, EmptyMutation, EmptySubscription).finish(),
    )
    .await;
    let gateway = CaseGateway::start(SUPERGRAPH, &[("posts", &posts), ("social", &social)]).await;

    let body = gateway
        .query("{ feed { author { id } comments(limit: 1) { id } } }")
        .await;

    assert_eq!(
        body,
        json!({ "data": { "feed": [{
            "author": { "id": "author of p1-c1,author of p1-c2,author of p1-c3" },
            "comments": [{ "id": "p1-c1" }],
        }]}})
    );
    let comments = |id: &str| json!({ "__typename": "Comment", "id": id });
    assert_eq!(
        posts.requests(),
        vec![
            json!({ "query": "{feed{__typename id}}", "variables": {} }),
            json!({
                "query": "query($representations:[_Any!]!){_entities(representations: $representations){...on Comment{authorId}}}",
                "variables": { "representations": [
                    comments("p1-c1"), comments("p1-c2"), comments("p1-c3"),
                ]},
            }),
        ]
    );
    let author = |id: &str| json!({ "authorId": format!("author of {id}") });
    assert_eq!(
        social.requests(),
        vec![
            json!({
                "query": "query($representations:[_Any!]!){_entities(representations: $representations){...on Post{_internal_qp_alias_0: comments(limit: 3){__typename id} comments(limit: 1){id}}}}",
                "variables": { "representations": [{ "__typename": "Post", "id": "p1" }] },
            }),
            // The three comments fetched under the internal alias, sent as `comments`.
            json!({
                "query": "query($representations:[_Any!]!){_entities(representations: $representations){...on Post{author{id}}}}",
                "variables": { "representations": [{
                    "__typename": "Post",
                    "comments": [author("p1-c1"), author("p1-c2"), author("p1-c3")],
                    "id": "p1",
                }]},
            }),
        ]
    );
}
