export interface FcmSettings {
  /** `https://fcm.googleapis.com`, or a local server in tests. */
  baseUrl: string;
  /** The service account key file's JSON text, as downloaded from the Firebase console. */
  serviceAccountJson: string;
  /** Overrides the key file's `token_uri` (tests, private endpoints). */
  tokenUrl?: string;
}
