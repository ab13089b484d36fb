export interface AliyunSmsSettings {
  /** `https://dysmsapi.aliyuncs.com`, or a local server in tests. */
  baseUrl: string;
  accessKeyId: string;
  accessKeySecret: string;
  regionId: string;
  /** The approved signature name shown in the message. */
  signName: string;
  /** The approved template used when a message brings no template of its own. */
  templateCode: string;
  /** The template parameter that receives the rendered text, e.g. `content` for `${content}`. */
  bodyParam: string;
}
