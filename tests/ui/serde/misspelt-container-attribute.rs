use schema_migrate::Versioned;

#[derive(Debug, Versioned)]
#[serde(rename_al = "camelCase")]
#[schema(version = 2, migrate(from = 1, add(retry_count)))]
pub struct Job {
    pub job_name: String,
    pub retry_count: u32,
}

fn main() {
    let job: Job = serde_json::from_str(r#"{"_version":1,"jobName":"sync"}"#).unwrap();
    println!("{job:?}");
}
