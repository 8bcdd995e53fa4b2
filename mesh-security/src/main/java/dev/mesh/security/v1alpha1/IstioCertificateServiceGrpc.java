package dev.mesh.security.v1alpha1;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.protobuf.ProtoFileDescriptorSupplier;
import io.grpc.protobuf.ProtoMethodDescriptorSupplier;
import io.grpc.protobuf.ProtoServiceDescriptorSupplier;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.AbstractBlockingStub;
import io.grpc.stub.AbstractFutureStub;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;

/**
 * The gRPC binding of {@code istio.v1.auth.IstioCertificateService} (ca.proto): what grpc-java's
 * code generator makes, written out because its binary is not served for our grpc version. The wire
 * names come from the proto's descriptor, so they cannot drift from ca.proto.
 */
public final class IstioCertificateServiceGrpc {
  private IstioCertificateServiceGrpc() {}

  public static final String SERVICE_NAME =
      IstioCaProto.getDescriptor().findServiceByName("IstioCertificateService").getFullName();

  private static final MethodDescriptor<IstioCertificateRequest, IstioCertificateResponse>
      CREATE_CERTIFICATE =
          MethodDescriptor.<IstioCertificateRequest, IstioCertificateResponse>newBuilder()
              .setType(MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(
                  MethodDescriptor.generateFullMethodName(SERVICE_NAME, "CreateCertificate"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(
                  ProtoUtils.marshaller(IstioCertificateRequest.getDefaultInstance()))
              .setResponseMarshaller(
                  ProtoUtils.marshaller(IstioCertificateResponse.getDefaultInstance()))
              .setSchemaDescriptor(new Schema("CreateCertificate"))
              .build();

  private static final ServiceDescriptor SERVICE =
      ServiceDescriptor.newBuilder(SERVICE_NAME)
          .setSchemaDescriptor(new Schema(null))
          .addMethod(CREATE_CERTIFICATE)
          .build();

  /** {@code istio.v1.auth.IstioCertificateService/CreateCertificate}. */
  public static MethodDescriptor<IstioCertificateRequest, IstioCertificateResponse>
      getCreateCertificateMethod() {
    return CREATE_CERTIFICATE;
  }

  public static ServiceDescriptor getServiceDescriptor() {
    return SERVICE;
  }

  /** The server side: implement {@link #createCertificate} and serve the instance. */
  public abstract static class IstioCertificateServiceImplBase implements io.grpc.BindableService {
    /** Signs the CSR for the authenticated caller. */
    public abstract void createCertificate(
        IstioCertificateRequest request, StreamObserver<IstioCertificateResponse> response);

    @Override
    public final ServerServiceDefinition bindService() {
      return ServerServiceDefinition.builder(SERVICE)
          .addMethod(CREATE_CERTIFICATE, ServerCalls.asyncUnaryCall(this::createCertificate))
          .build();
    }
  }

  public static IstioCertificateServiceBlockingStub newBlockingStub(Channel channel) {
    return new IstioCertificateServiceBlockingStub(channel, CallOptions.DEFAULT);
  }

  public static IstioCertificateServiceFutureStub newFutureStub(Channel channel) {
    return new IstioCertificateServiceFutureStub(channel, CallOptions.DEFAULT);
  }

  /** Blocking calls (set a deadline with {@code withDeadlineAfter}). */
  public static final class IstioCertificateServiceBlockingStub
      extends AbstractBlockingStub<IstioCertificateServiceBlockingStub> {
    private IstioCertificateServiceBlockingStub(Channel channel, CallOptions options) {
      super(channel, options);
    }

    @Override
    protected IstioCertificateServiceBlockingStub build(Channel channel, CallOptions options) {
      return new IstioCertificateServiceBlockingStub(channel, options);
    }

    public IstioCertificateResponse createCertificate(IstioCertificateRequest request) {
      return ClientCalls.blockingUnaryCall(
          getChannel(), CREATE_CERTIFICATE, getCallOptions(), request);
    }
  }

  /** Calls answering with a future. */
  public static final class IstioCertificateServiceFutureStub
      extends AbstractFutureStub<IstioCertificateServiceFutureStub> {
    private IstioCertificateServiceFutureStub(Channel channel, CallOptions options) {
      super(channel, options);
    }

    @Override
    protected IstioCertificateServiceFutureStub build(Channel channel, CallOptions options) {
      return new IstioCertificateServiceFutureStub(channel, options);
    }

    public ListenableFuture<IstioCertificateResponse> createCertificate(
        IstioCertificateRequest request) {
      return ClientCalls.futureUnaryCall(
          getChannel().newCall(CREATE_CERTIFICATE, getCallOptions()), request);
    }
  }

  private static final class Schema
      implements ProtoFileDescriptorSupplier,
          ProtoServiceDescriptorSupplier,
          ProtoMethodDescriptorSupplier {
    private final String method;

    Schema(String method) {
      this.method = method;
    }

    @Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return IstioCaProto.getDescriptor();
    }

    @Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("IstioCertificateService");
    }

    @Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return method == null ? null : getServiceDescriptor().findMethodByName(method);
    }
  }
}
